"""Who may see what: the one module every surface asks.

``restrict(queryset, user)`` returns the queryset restricted to what the user may reach, so callers
keep filtering and paginating (NetBox's ``RestrictedQuerySet.restrict`` is the model). Each model
that holds patient data names its way to a site in ``site_path`` (``Patient``: ``"site"``;
``Recording`` and ``Diagnostic``: ``"patient__site"``), so this module needs to import no app above
it. An object outside the result is, for the caller, an object that does not exist: answer 404,
not 403 (``visible`` raises ``NotVisible``).

- Administrators (superusers) reach every site. Staff status alone only opens the admin.
- Clinicians and site administrators reach the patients (and their recordings and diagnostics) of
  the sites they are members of in those roles.
- Researchers reach no identified clinical data; ``research_restrict`` gives them the consenting
  patients' rows of their research sites, and the limited data set only where a data-use agreement
  is current.
- Anonymous and inactive users reach nothing.

Within a web request (``RequestScopeMiddleware``) a user's sites are read once, at the first
check, and later checks filter by their ids; elsewhere (a socket held open for hours, a task)
every check reads the memberships again, inside its own query, so a revoked membership closes
what it opened at the next check.
"""

from collections.abc import Callable
from contextvars import ContextVar
from typing import TypeVar

from django.db.models import Model, QuerySet
from django.utils import timezone

from portal.core.errors import NotVisible
from portal.core.models import AuditEvent, Membership, Patient, Role, Site

CLINICAL_ROLES = (Role.CLINICIAN, Role.SITE_ADMIN)

M = TypeVar("M", bound=Model)

SAFE_HARBOR = "safe_harbor"
LIMITED = "limited"
DATASETS = (SAFE_HARBOR, LIMITED)


def _is_global_admin(user) -> bool:
    return bool(user.is_active and user.is_superuser)


def _can_act(user) -> bool:
    return bool(user and user.is_authenticated and user.is_active)


# {(user id, roles): site ids} for the request being answered; None outside a request.
_request_sites: ContextVar[dict | None] = ContextVar("request_sites", default=None)


class RequestScopeMiddleware:
    """Each request reads a user's memberships once: a page asks this module five to ten times
    (its gate, then every query it scopes), and building the memberships' subquery into each
    query cost about a tenth of a clinician visit's CPU. A request is short and answers for one
    moment; a membership granted or revoked in it is seen by the next (``forget_sites``
    sooner)."""

    def __init__(self, get_response: Callable) -> None:
        self.get_response = get_response

    def __call__(self, request):
        token = _request_sites.set({})
        try:
            return self.get_response(request)
        finally:
            _request_sites.reset(token)


def forget_sites() -> None:
    """Memberships changed: the request's later checks read them again."""
    remembered = _request_sites.get()
    if remembered is not None:
        remembered.clear()


def _memberships(user, roles) -> QuerySet[Membership]:
    return Membership.objects.filter(user=user, role__in=roles)


def _site_ids(user, roles) -> list[int] | QuerySet:
    """The ids of the sites where ``user`` holds one of ``roles``: read once a request, or
    outside a request a subquery that reads them inside each query that uses it."""
    remembered = _request_sites.get()
    if remembered is None:
        return _memberships(user, roles).values("site_id")
    key = (user.pk, tuple(roles))
    if key not in remembered:
        remembered[key] = list(_memberships(user, roles).values_list("site_id", flat=True))
    return remembered[key]


def sites_for(user, *, roles=CLINICAL_ROLES) -> QuerySet[Site]:
    """Sites where the user holds one of ``roles``."""
    if not _can_act(user):
        return Site.objects.none()
    if _is_global_admin(user):
        return Site.objects.all()
    return Site.objects.filter(id__in=_site_ids(user, roles))


def clinical_sites(user) -> list[Site]:
    """The sites of a clinical gate (a page's workspace), read once: within a request the later
    checks filter by their ids without asking again."""
    remembered, key = _request_sites.get(), (user.pk, CLINICAL_ROLES)
    if remembered is None or key in remembered or not _can_act(user) or _is_global_admin(user):
        return list(sites_for(user))
    sites = list(Site.objects.filter(id__in=_memberships(user, CLINICAL_ROLES).values("site_id")))
    remembered[key] = [site.pk for site in sites]
    return sites


def has_clinical_role(user) -> bool:
    """Whether the user may use clinical surfaces at all (a 403 otherwise, before any lookup)."""
    if not _can_act(user):
        return False
    if _is_global_admin(user):
        return True
    site_ids = _site_ids(user, CLINICAL_ROLES)
    return bool(site_ids) if isinstance(site_ids, list) else site_ids.exists()


def restrict(queryset: QuerySet[M], user) -> QuerySet[M]:
    """The rows of ``queryset`` the user may reach clinically."""
    if not _can_act(user):
        return queryset.none()
    if _is_global_admin(user):
        return queryset
    # The memberships' site ids, not ``sites_for``: the site table adds a join to every
    # patient-data query and nothing to its answer (a membership's site exists).
    return queryset.filter(**{f"{queryset.model.site_path}__in": _site_ids(user, CLINICAL_ROLES)})


def visible(queryset: QuerySet[M], user, pk: int, *, what: str | None = None) -> M:
    """One object the user may reach, or ``NotVisible`` whether it is missing or out of reach
    (``what`` names it in the message: "Upload not found.")."""
    found = restrict(queryset, user).filter(pk=pk).first()
    if found is None:
        raise NotVisible(what or queryset.model._meta.verbose_name.capitalize())
    return found


def patients_for(user) -> QuerySet[Patient]:
    return restrict(Patient.objects.all(), user)


def visible_patient(user, pk: int) -> Patient:
    return visible(Patient.objects.select_related("site"), user, pk)


def research_sites(user) -> QuerySet[Site]:
    return sites_for(user, roles=(Role.RESEARCHER,))


def limited_data_set_sites(user) -> QuerySet[Site]:
    """Research sites where the user's data-use agreement is current today."""
    if not _can_act(user):
        return Site.objects.none()
    agreements = Membership.objects.filter(
        user=user, role=Role.RESEARCHER, data_use_agreement_until__gte=timezone.localdate()
    )
    return Site.objects.filter(id__in=agreements.values("site_id"))


def export_sites(user, dataset: str) -> QuerySet[Site]:
    """Where the user may export ``dataset`` from: research sites, or for the limited data set
    only those with a current data-use agreement."""
    if dataset == LIMITED:
        return limited_data_set_sites(user)
    return research_sites(user)


def research_restrict(queryset: QuerySet[M], user, *, dataset: str) -> QuerySet[M]:
    """The rows of ``queryset`` the user may export as ``dataset``: patients who consent to research
    *now* (a withdrawal removes a patient from every later export), at the export's sites."""
    site_path = queryset.model.site_path
    return research_consenting(queryset).filter(**{f"{site_path}__in": export_sites(user, dataset)})


def research_consenting(queryset: QuerySet[M]) -> QuerySet[M]:
    """The rows of ``queryset`` whose patients consent to research now: what research exports
    and model training may use (a withdrawal removes a patient from every later export and run)."""
    patient = queryset.model.site_path.removesuffix("site")  # "" for Patient, "patient__" below
    return queryset.filter(**{f"{patient}research_consent": True})


def audit_events_for(user) -> QuerySet[AuditEvent]:
    """Audit events are for administrators: staff see all, site administrators their sites'."""
    if not _can_act(user):
        return AuditEvent.objects.none()
    if _is_global_admin(user):
        return AuditEvent.objects.all()
    return AuditEvent.objects.filter(site__in=sites_for(user, roles=(Role.SITE_ADMIN,)))
