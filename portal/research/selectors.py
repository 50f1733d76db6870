"""Which diagnostics a researcher may export, and under which data set.

Only succeeded diagnostics of stored recordings, of patients who consent to research *now* (a
withdrawal removes a patient from every later export), at sites where the user is a researcher.
The limited data set narrows that to the sites whose membership records a data-use agreement that
is still current; without one anywhere, it is refused.
"""

from django.db.models import QuerySet
from django.utils import timezone

from diagnostics.models import Diagnostic, DiagnosticStatus
from media_assets.models import Recording, RecordingStatus
from portal.core import permissions
from portal.core.models import Membership, Role, Site

SAFE_HARBOR = "safe_harbor"
LIMITED = "limited"
DATASETS = (SAFE_HARBOR, LIMITED)


def limited_data_set_sites(user) -> QuerySet[Site]:
    """Research sites where the user's data-use agreement is current today."""
    if not (user and user.is_authenticated and user.is_active):
        return Site.objects.none()
    agreements = Membership.objects.filter(
        user=user, role=Role.RESEARCHER, data_use_agreement_until__gte=timezone.localdate()
    )
    return Site.objects.filter(id__in=agreements.values("site_id"))


def export_sites(user, dataset: str) -> QuerySet[Site]:
    if dataset == LIMITED:
        return limited_data_set_sites(user)
    return permissions.research_sites(user)


def research_diagnostics(user, dataset: str) -> QuerySet[Diagnostic]:
    return Diagnostic.objects.filter(
        patient__site__in=export_sites(user, dataset),
        patient__research_consent=True,
        status=DiagnosticStatus.SUCCEEDED,
        recording__status=RecordingStatus.STORED,
    )


def research_recording(user, pseudonym: str) -> Recording | None:
    """The stored recording behind a pseudonym, if the user may have its audio (limited set only)."""
    return (
        Recording.objects.filter(
            research_pseudonym__value=pseudonym,
            status=RecordingStatus.STORED,
            patient__research_consent=True,
            patient__site__in=limited_data_set_sites(user),
        )
        .select_related("patient")
        .first()
    )
