"""SAML's views and the service provider's configuration (``SAML_CONFIG_LOADER``), on
djangosaml2 and pysaml2; the routes import this module on the first SAML request
(``portal.sso.urls``), as pysaml2 takes a second to import."""

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
from portal.sso.saml import enabled, entity_id, identity_from


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
