"""From the provider's claims to what the portal grants: site memberships with roles, from the
user's groups (``SSO_GROUP_MAP``), and whether the provider vouches for a second factor.

The map names each group the portal cares about and what it grants::

    {"portal-north-clinicians": "north:clinician",
     "portal-admins": ["north:site_admin", "south:site_admin"]}

Groups the map does not name grant nothing; a user with none of the named groups is refused.
"""

from dataclasses import dataclass

from django.conf import settings

from portal.core.models import Role


@dataclass(frozen=True, order=True)
class Grant:
    site_code: str
    role: str


class BadGroupMap(ValueError):
    pass


def parse_group_map(raw) -> dict[str, frozenset[Grant]]:
    """``SSO_GROUP_MAP`` as grants per group; raises ``BadGroupMap`` saying what is wrong."""
    if not isinstance(raw, dict):
        raise BadGroupMap("SSO_GROUP_MAP must be a JSON object of group: grants.")
    parsed = {}
    for group, grants in raw.items():
        entries = [grants] if isinstance(grants, str) else grants
        if not isinstance(entries, list) or not entries:
            raise BadGroupMap(f"SSO_GROUP_MAP[{group!r}] must be 'site:role' or a list of them.")
        parsed[str(group)] = frozenset(_grant(group, entry) for entry in entries)
    return parsed


def _grant(group, entry) -> Grant:
    site_code, _colon, role = str(entry).partition(":")
    if not site_code or role not in Role.values:
        raise BadGroupMap(
            f"SSO_GROUP_MAP[{group!r}]: {entry!r} is not 'site_code:role' with a role among "
            f"{', '.join(Role.values)}."
        )
    return Grant(site_code=site_code, role=role)


def grants_for(groups) -> set[Grant]:
    """What the user's groups grant under the configured map."""
    group_map = parse_group_map(settings.SSO_GROUP_MAP)
    if isinstance(groups, str):
        groups = [groups]
    return {grant for group in groups or () for grant in group_map.get(str(group), ())}


def provider_vouches_for_second_factor(claims: dict) -> bool:
    """An ``amr`` value among ``OIDC_MFA_AMR_VALUES`` (RFC 8176 names the methods), or an
    ``acr`` (or one of Entra ID's ``acrs`` authentication contexts) among
    ``OIDC_MFA_ACR_VALUES``."""
    if set(_as_list(claims.get("amr"))) & set(settings.OIDC_MFA_AMR_VALUES):
        return True
    contexts = {
        str(value) for value in [*_as_list(claims.get("acr")), *_as_list(claims.get("acrs"))]
    }
    return bool(contexts & set(settings.OIDC_MFA_ACR_VALUES))


def _as_list(value) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]
