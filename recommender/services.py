"""Writes of the recommender that clinicians cause: views of cases and feedback on similar cases.

Both feed the co-interaction part of the hybrid ranking (``recommender.scoring``). The index
jobs (``recommender.indexing``) and review priorities (``recommender.priority``) write the rest.
"""

from datetime import timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from diagnostics.models import Diagnostic
from diagnostics.selectors import diagnostics_for
from portal.core.audit import AuditContext, record_event
from portal.core.errors import Invalid
from recommender.models import Interaction, InteractionKind

FEEDBACK_KINDS = (InteractionKind.MARKED_SIMILAR, InteractionKind.DISMISSED)
# A reload of the same page is one view, not two.
VIEW_REPEAT_WINDOW = timedelta(minutes=5)


class FeedbackRefused(Invalid):
    """Feedback that cannot be recorded (an unknown kind, or a case compared with itself)."""

    def __init__(self, message) -> None:
        super().__init__(str(message))


def record_feedback(
    *,
    actor: AbstractBaseUser,
    diagnostic: Diagnostic,
    other: Diagnostic,
    kind: str,
    audit: AuditContext | None = None,
) -> Interaction:
    """Record that ``actor``, looking at ``diagnostic``, found ``other`` similar or not.

    Both diagnostics must be ones the actor may see (the caller looked them up through
    ``portal.core.permissions``). Audited on the similar case's patient.
    """
    if kind not in FEEDBACK_KINDS:
        raise FeedbackRefused(_("kind must be marked_similar or dismissed."))
    if other.pk == diagnostic.pk:
        raise FeedbackRefused(_("A case cannot be compared with itself."))
    with transaction.atomic():
        interaction = Interaction.objects.create(
            user=actor, diagnostic=other, source=diagnostic, kind=kind
        )
        record_event(
            action="similar_case.feedback", actor=actor, obj=other, patient=other.patient,
            context=audit, detail={"kind": kind, "source_diagnostic": diagnostic.pk},
        )  # fmt: skip
    return interaction


def record_view(*, user, diagnostic: Diagnostic, source: Diagnostic | None = None):
    """Record that ``user`` viewed ``diagnostic`` (from ``source``, when they came from a similar
    case panel); returns the interaction, or None for a repeat within a few minutes.

    A ``source`` the user may not see, or the diagnostic itself, is dropped rather than refused:
    it comes from a link parameter, and the view itself happened.
    """
    if not (user and user.is_authenticated):
        return None
    if source is not None and (
        source.pk == diagnostic.pk or not diagnostics_for(user).filter(pk=source.pk).exists()
    ):
        source = None
    now = timezone.now()
    with transaction.atomic():
        repeat = Interaction.objects.filter(
            user=user, diagnostic=diagnostic, source=source, kind=InteractionKind.VIEWED,
            at__gte=now - VIEW_REPEAT_WINDOW,
        ).exists()  # fmt: skip
        if repeat:
            return None
        return Interaction.objects.create(
            user=user, diagnostic=diagnostic, source=source, kind=InteractionKind.VIEWED, at=now
        )
