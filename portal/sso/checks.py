"""Refuse to start with a group map that cannot be read (``manage.py check`` and every start)."""

from django.conf import settings
from django.core.checks import Error, register

from portal.sso.mapping import BadGroupMap, parse_group_map


@register()
def group_map_is_readable(app_configs, **kwargs):
    try:
        parse_group_map(settings.SSO_GROUP_MAP)
    except BadGroupMap as exc:
        return [Error(str(exc), id="sso.E001")]
    if settings.OIDC_RP_CLIENT_ID and not (
        settings.OIDC_OP_ISSUER
        and settings.OIDC_OP_AUTHORIZATION_ENDPOINT
        and settings.OIDC_OP_TOKEN_ENDPOINT
        and settings.OIDC_OP_JWKS_ENDPOINT
    ):
        return [
            Error(
                "OIDC_RP_CLIENT_ID is set: OIDC_OP_ISSUER, OIDC_OP_AUTHORIZATION_ENDPOINT, "
                "OIDC_OP_TOKEN_ENDPOINT and OIDC_OP_JWKS_ENDPOINT must be set too.",
                id="sso.E002",
            )
        ]
    return []
