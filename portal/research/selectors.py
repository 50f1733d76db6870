"""Which diagnostics a researcher may export, and under which data set.

Only succeeded diagnostics of stored recordings, of patients who consent to research *now*, at
the sites the data set allows: who may see what is ``portal.core.permissions.research_restrict``'s
to say (research sites; for the limited data set, only those with a current data-use agreement).
"""

from django.db.models import QuerySet

from diagnostics.models import Diagnostic, DiagnosticStatus
from media_assets.models import Recording, RecordingStatus
from portal.core import permissions
from portal.core.permissions import DATASETS, LIMITED, SAFE_HARBOR

__all__ = ["DATASETS", "LIMITED", "SAFE_HARBOR", "research_diagnostics", "research_recording"]


def research_diagnostics(user, dataset: str) -> QuerySet[Diagnostic]:
    return permissions.research_restrict(
        Diagnostic.objects.filter(
            status=DiagnosticStatus.SUCCEEDED, recording__status=RecordingStatus.STORED
        ),
        user,
        dataset=dataset,
    )


def research_recording(user, pseudonym: str) -> Recording | None:
    """The stored recording behind a pseudonym, if the user may have its audio (limited set only)."""
    return (
        permissions.research_restrict(
            Recording.objects.filter(
                research_pseudonym__value=pseudonym, status=RecordingStatus.STORED
            ),
            user,
            dataset=LIMITED,
        )
        .select_related("patient")
        .first()
    )
