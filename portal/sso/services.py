"""Signing in through the identity provider: who the provider says the user is, turned into a
local user with the memberships their groups grant, applied at every sign-in.

Every outcome is audited: ``sso.signed_in`` (with the grants added and removed, never a name or
an address), ``sso.refused`` with its reason, ``sso.signed_out``. A membership the provider no
longer grants is removed, and the user's API tokens, live sockets and other browser sessions end
with it (``portal.core.revocation``).
"""

import hashlib
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from portal.core import permissions, revocation
from portal.core.audit import AuditContext, record_event
from portal.core.errors import Forbidden
from portal.core.models import Membership, Role, Site
from portal.core.roles import GROUP_NAMES
from portal.sso.mapping import grants_for
from portal.sso.models import ExternalIdentity, ProviderSecondFactor

User = get_user_model()

REFUSALS = {
    "no_mapped_group": _(
        "Your hospital account has no role in this portal. Ask your IT department to add you "
        "to one of the portal's groups."
    ),
    "deactivated": _("This account has been deactivated. Ask your site administrator."),
    "second_factor_missing": _(
        "Your account needs a second factor. Sign in at the hospital with multi-factor "
        "authentication, or open the authenticator enrolment link your administrator gave you "
        "in this browser within ten minutes."
    ),
    "provider_error": _(
        "The hospital's sign-in service did not answer as expected. Try again in a moment."
    ),
    "cancelled": _("Signing in at the hospital was cancelled or refused."),
}


class SignInRefused(Forbidden):
    """The provider vouched for the person, but the portal will not let them in."""

    code = "sso_refused"

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(str(REFUSALS[reason]))


@dataclass(frozen=True)
class ProviderIdentity:
    """What the provider said about the person at one sign-in."""

    protocol: str
    issuer: str
    subject: str
    groups: list[str] = field(default_factory=list)
    second_factor: bool = False
    username: str = ""
    email: str = ""
    given_name: str = ""
    family_name: str = ""


def sign_in_from_provider(*, identity: ProviderIdentity, audit: AuditContext | None = None):
    """The local user to sign in, their memberships now those ``identity``'s groups grant;
    raises ``SignInRefused`` (audited) when there is none or it may not sign in."""
    with transaction.atomic():
        link = (
            ExternalIdentity.objects.select_for_update()
            .select_related("user")
            .filter(issuer=identity.issuer, subject=identity.subject)
            .first()
        )
        wanted = _wanted_memberships(identity.groups)
        if link is None and not wanted:
            link = None  # nobody to create: refused below, nothing written
        elif link is None:
            link = _link_new_user(identity)
        if link is not None and link.user.is_active:
            _update_profile(link.user, identity)
            added, removed = _apply_memberships(link.user, wanted)
            link.last_signed_in_at = timezone.now()
            link.save(update_fields=["last_signed_in_at"])
    # Refusals are audited outside the transaction, which a refusal must not roll back.
    user = link.user if link is not None else None
    if user is None:
        refuse(reason="no_mapped_group", protocol=identity.protocol, audit=audit)
    if not user.is_active:
        refuse(reason="deactivated", user=user, protocol=identity.protocol, audit=audit)
    if removed:
        # What the user may see has shrunk: every token, socket and other session ends now.
        revocation.revoke(user=user, reason="membership_lost", audit=audit)
        revocation.end_sessions(user=user)
    if added or removed:
        record_event(
            action="sso.memberships_changed", actor=user, context=audit,
            detail={"protocol": identity.protocol, "added": added, "removed": removed},
        )  # fmt: skip
    if not wanted:
        refuse(reason="no_mapped_group", user=user, protocol=identity.protocol, audit=audit)
    return user


def record_refusal(*, reason: str, protocol: str, user=None, audit: AuditContext | None = None):
    record_event(action="sso.refused", actor=user, context=audit,
                 detail={"reason": reason, "protocol": protocol})  # fmt: skip


def refuse(*, reason: str, protocol: str, user=None, audit: AuditContext | None = None):
    """Audit the refusal and raise it."""
    record_refusal(reason=reason, protocol=protocol, user=user, audit=audit)
    raise SignInRefused(reason)


def record_signed_in(*, user, protocol: str, second_factor: str, audit: AuditContext | None):
    """``second_factor``: "provider" (the provider's MFA claim), "code" (a local code) or
    "not_required"."""
    record_event(action="sso.signed_in", actor=user, context=audit,
                 detail={"protocol": protocol, "second_factor": second_factor})  # fmt: skip


def record_signed_out(*, user, protocol: str, at_provider: bool, audit: AuditContext | None):
    record_event(action="sso.signed_out", actor=user, context=audit,
                 detail={"protocol": protocol, "at_provider": at_provider})  # fmt: skip


def provider_second_factor(user) -> ProviderSecondFactor:
    """The device that records, in a session, the provider's word that a second factor was given."""
    device, _created = ProviderSecondFactor.objects.get_or_create(
        user=user, defaults={"name": "Identity provider", "confirmed": True}
    )
    return device


def _wanted_memberships(groups) -> set[tuple[int, str]]:
    grants = grants_for(groups)
    sites = dict(
        Site.objects.filter(code__in={g.site_code for g in grants}).values_list("code", "pk")
    )
    return {(sites[g.site_code], g.role) for g in grants if g.site_code in sites}


def _link_new_user(identity: ProviderIdentity) -> ExternalIdentity:
    user = User(username=_free_username(identity))
    user.set_unusable_password()  # signs in through the provider only
    user.save()
    return ExternalIdentity.objects.create(
        user=user, protocol=identity.protocol, issuer=identity.issuer, subject=identity.subject
    )


def _free_username(identity: ProviderIdentity) -> str:
    """The provider's username (or e-mail) when no local account has it; never a local account's:
    a provider that calls someone ``admin`` does not make them the local ``admin``."""
    digest = hashlib.sha256(f"{identity.issuer} {identity.subject}".encode()).hexdigest()[:8]
    wanted = (identity.username or identity.email)[:140] or f"sso-{digest}"
    if not User.objects.filter(username=wanted).exists():
        return wanted
    return f"{wanted}-{digest}"


def _update_profile(user, identity: ProviderIdentity) -> None:
    fields = {
        "email": identity.email[:254],
        "first_name": identity.given_name[:150],
        "last_name": identity.family_name[:150],
    }
    changed = [name for name, value in fields.items() if value and getattr(user, name) != value]
    for name in changed:
        setattr(user, name, fields[name])
    user.last_login = timezone.now()
    user.save(update_fields=[*changed, "last_login"])


def _apply_memberships(user, wanted: set[tuple[int, str]]) -> tuple[list[str], list[str]]:
    """Make the user's memberships exactly ``wanted`` (a researcher's data-use agreement stays
    with a membership that stays); their role groups and staff status follow. Returns the
    grants added and removed as "site_code:role"."""
    held = {(m.site_id, m.role): m for m in Membership.objects.filter(user=user)}
    gone = [held[key] for key in held.keys() - wanted]
    new = wanted - held.keys()
    codes = dict(
        Site.objects.filter(pk__in={s for s, _r in held.keys() | wanted}).values_list("pk", "code")
    )
    Membership.objects.filter(pk__in=[m.pk for m in gone]).delete()
    Membership.objects.bulk_create(Membership(user=user, site_id=s, role=r) for s, r in new)
    permissions.forget_sites()
    roles = {role for _site, role in wanted}
    role_groups = Group.objects.filter(name__in=GROUP_NAMES.values())
    user.groups.remove(*[g for g in role_groups if g.name not in {GROUP_NAMES[r] for r in roles}])
    user.groups.add(*[g for g in role_groups if g.name in {GROUP_NAMES[r] for r in roles}])
    if not user.is_superuser and user.is_staff != (Role.SITE_ADMIN in roles):
        user.is_staff = Role.SITE_ADMIN in roles  # site administrators work in the admin
        user.save(update_fields=["is_staff"])
    return (
        sorted(f"{codes[s]}:{r}" for s, r in new),
        sorted(f"{codes[m.site_id]}:{m.role}" for m in gone),
    )
