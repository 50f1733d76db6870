"""Who may see what: the one module every surface asks.

Each function takes a user and returns a queryset already restricted to what that user may reach, so
callers keep filtering and paginating (NetBox's ``RestrictedQuerySet.restrict`` is the model). An
object outside the result is, for the caller, an object that does not exist: answer 404, not 403.

- Administrators (superusers) reach every site. Staff status alone only opens the admin.
- Clinicians and site administrators reach the patients (and their recordings and diagnostics) of
  the sites they are members of in those roles.
- Researchers reach no identified clinical data here; the research export has its own, de-identified
  selector built on ``research_sites``.
- Anonymous and inactive users reach nothing.
"""

from django.apps import apps
from django.db.models import QuerySet

from portal.models import AuditEvent, Membership, Patient, Role, Site

CLINICAL_ROLES = (Role.CLINICIAN, Role.SITE_ADMIN)


def _is_global_admin(user) -> bool:
    return bool(user.is_active and user.is_superuser)


def _can_act(user) -> bool:
    return bool(user and user.is_authenticated and user.is_active)


def sites_for(user, *, roles=CLINICAL_ROLES) -> QuerySet[Site]:
    """Sites where the user holds one of ``roles``."""
    if not _can_act(user):
        return Site.objects.none()
    if _is_global_admin(user):
        return Site.objects.all()
    site_ids = Membership.objects.filter(user=user, role__in=roles).values("site_id")
    return Site.objects.filter(id__in=site_ids)


def has_clinical_role(user) -> bool:
    """Whether the user may use clinical surfaces at all (a 403 otherwise, before any lookup)."""
    return _can_act(user) and (_is_global_admin(user) or sites_for(user).exists())


def research_sites(user) -> QuerySet[Site]:
    return sites_for(user, roles=(Role.RESEARCHER,))


def patients_for(user) -> QuerySet[Patient]:
    if not _can_act(user):
        return Patient.objects.none()
    if _is_global_admin(user):
        return Patient.objects.all()
    return Patient.objects.filter(site__in=sites_for(user))


def recordings_for(user) -> QuerySet:
    # Looked up by name: portal sits below media_assets and diagnostics and must not import them.
    recording = apps.get_model("media_assets", "Recording")
    return recording.objects.filter(patient__in=patients_for(user))


def diagnostics_for(user) -> QuerySet:
    diagnostic = apps.get_model("diagnostics", "Diagnostic")
    return diagnostic.objects.filter(patient__in=patients_for(user))


def audit_events_for(user) -> QuerySet[AuditEvent]:
    """Audit events are for administrators: staff see all, site administrators their sites'."""
    if not _can_act(user):
        return AuditEvent.objects.none()
    if _is_global_admin(user):
        return AuditEvent.objects.all()
    return AuditEvent.objects.filter(site__in=sites_for(user, roles=(Role.SITE_ADMIN,)))
