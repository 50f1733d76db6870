"""SAML 2.0, the alternative to OpenID Connect, with djangosaml2 and pysaml2 (signatures checked
by xmlsec1): the portal is a service provider; the provider's assertion must be signed, answer a
request the portal made, and be for the portal. Who the person is here and what they may do
come from the same rules as OpenID Connect (``portal.sso.services``, the same group map).

Sign-out is local: the provider's single logout is not used.

This module is what the rest of the portal asks of SAML (whether it is on, and who an assertion
names); the views and the service provider's configuration are in ``portal.sso.saml_views``,
which the routes import on the first SAML request: pysaml2 loads its XML schemas when it is
imported, a second of every process's start, and most sites sign in another way.
"""

from django.conf import settings

from portal.sso import services
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
