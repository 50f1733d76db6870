"""SAML 2.0, the alternative to OpenID Connect, with djangosaml2 and pysaml2 (signatures checked
by xmlsec1): the portal is a service provider; the provider's assertion must be signed, answer a
request the portal made, and be for the portal. Who the person is here and what they may do
come from the same rules as OpenID Connect (``portal.sso.services``, the same group map).

Sign-out is local: the provider's single logout is not used.
"""

import shutil

from django.conf import settings
from django.http import Http404
from django.utils.http import url_has_allowed_host_and_scheme
from djangosaml2.views import AssertionConsumerServiceView, LoginView, MetadataView
from saml2 import BINDING_HTTP_POST
from saml2.config import SPConfig
from saml2.saml import NAMEID_FORMAT_PERSISTENT

from portal.core.audit import AuditContext
from portal.sso import services, signing_in
from portal.sso.models import Protocol

# Attribute names as pysaml2 reads them (friendly names of the standard attribute profiles) and
# as Entra ID sends them.
USERNAME_ATTRIBUTES = ("uid", "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name")
EMAIL_ATTRIBUTES = ("mail", "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress")
GIVEN_NAME_ATTRIBUTES = (
    "givenName",
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname",
)
FAMILY_NAME_ATTRIBUTES = ("sn", "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname")


def enabled() -> bool:
    return bool(
        settings.SAML_SP_BASE_URL
        and (settings.SAML_IDP_METADATA_URL or settings.SAML_IDP_METADATA_FILE)
    )


def entity_id() -> str:
    return f"{settings.SAML_SP_BASE_URL.rstrip('/')}/sso/saml/metadata/"


def sp_config(request=None) -> SPConfig:
    """``SAML_CONFIG_LOADER``: the service provider as the settings describe it."""
    base = settings.SAML_SP_BASE_URL.rstrip("/")
    metadata = {}
    if settings.SAML_IDP_METADATA_FILE:
        metadata["local"] = [settings.SAML_IDP_METADATA_FILE]
    if settings.SAML_IDP_METADATA_URL:
        metadata["remote"] = [{"url": settings.SAML_IDP_METADATA_URL}]
    config = SPConfig()
    config.load({
        "entityid": entity_id(),
        "xmlsec_binary": shutil.which("xmlsec1"),
        "allow_unknown_attributes": True,
        "metadata": metadata,
        "service": {"sp": {
            "name": "Respiratory audio portal",
            "endpoints": {
                "assertion_consumer_service": [(f"{base}/sso/saml/acs/", BINDING_HTTP_POST)],
            },
            "name_id_format": NAMEID_FORMAT_PERSISTENT,
            "allow_unsolicited": False,
            "authn_requests_signed": False,
            "want_assertions_signed": True,
            "want_response_signed": False,
        }},
    })  # fmt: skip
    return config


def identity_from(session_info: dict) -> services.ProviderIdentity:
    """What the provider's assertion says about the person (values are lists in SAML)."""
    attributes = session_info.get("ava") or {}

    def first(names) -> str:
        for name in names:
            if attributes.get(name):
                return str(attributes[name][0])
        return ""

    contexts = {str(entry[0]) for entry in session_info.get("authn_info") or []}
    return services.ProviderIdentity(
        protocol=Protocol.SAML,
        issuer=str(session_info["issuer"]),
        subject=str(session_info["name_id"].text),
        groups=[str(g) for g in attributes.get(settings.SAML_GROUPS_ATTRIBUTE, [])],
        second_factor=bool(contexts & set(settings.SAML_MFA_AUTHN_CONTEXTS)),
        username=first(USERNAME_ATTRIBUTES),
        email=first(EMAIL_ATTRIBUTES),
        given_name=first(GIVEN_NAME_ATTRIBUTES),
        family_name=first(FAMILY_NAME_ATTRIBUTES),
    )


class _Enabled:
    def dispatch(self, request, *args, **kwargs):
        if not enabled():
            raise Http404
        return super().dispatch(request, *args, **kwargs)


class StartView(_Enabled, LoginView):
    """``/sso/saml/login/?next=…``: an authentication request to the provider."""


class SpMetadataView(_Enabled, MetadataView):
    """``/sso/saml/metadata/``: the portal's metadata, for the provider's administrator."""


class AssertionConsumerView(_Enabled, AssertionConsumerServiceView):
    """``/sso/saml/acs/``: the provider's answer, verified by pysaml2, then the portal's rules.
    djangosaml2's own sign-in step (which logs the assertion when it fails) is replaced."""

    def post(self, request, *args, **kwargs):
        self.outcome = None
        response = super().post(request, *args, **kwargs)
        return self.outcome or response

    def authenticate_user(self, request, session_info, attribute_mapping, create_unknown_user,
                          assertion_info):  # fmt: skip
        identity = identity_from(session_info)
        try:
            user = services.sign_in_from_provider(identity=identity, audit=AuditContext.of(request))
        except services.SignInRefused as refused:
            self.outcome = signing_in.refused(
                request, refused.reason, protocol=Protocol.SAML, audited=True
            )
            return None
        self.outcome = signing_in.complete(
            request, user, protocol=Protocol.SAML, next_url=self._next_url(request),
            provider_second_factor=identity.second_factor,
        )  # fmt: skip
        return user

    def handle_acs_failure(self, request, exception=None, status=403, **kwargs):
        # Not signed, not for us, not an answer to our request, or the provider said no.
        return signing_in.refused(request, "provider_error", protocol=Protocol.SAML)

    @staticmethod
    def _next_url(request) -> str:
        target = request.POST.get("RelayState", "")
        if url_has_allowed_host_and_scheme(
            target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ):
            return target
        return "/"
