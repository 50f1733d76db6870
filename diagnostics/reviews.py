"""A clinician's review of a diagnostic: confirm the model's label, correct it, or mark the case
inconclusive, with a note; and a public data set's label imported as reviewed truth
(``record_dataset_label``). (Retrying a failed analysis is ``diagnostics.services.retry_diagnostic``.)

Reviews are the ground truth for training, evaluation and recommendations, so each one records who
decided and when, and writes an audit event in the same transaction. The audit detail names the
decision and the fields written, never the note (free text may hold anything).
"""

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from diagnostics import signals
from diagnostics.models import Diagnostic, DiagnosticStatus, Label
from portal.core.audit import AuditContext, record_event
from portal.core.dispatch import send_quietly
from portal.core.errors import Conflict


class Decision:
    CONFIRM = "confirm"
    CORRECT = "correct"
    INCONCLUSIVE = "inconclusive"
    CHOICES = (
        (CONFIRM, _("Confirm the result")),
        (CORRECT, _("Correct the result")),
        (INCONCLUSIVE, _("Mark as inconclusive")),
    )


# What a review writes: a clinician's and an imported label alike.
REVIEW_FIELDS = ["review_label", "review_note", "reviewed_by", "reviewed_at", "review_imported"]


class ReviewRefused(Conflict):
    """The diagnostic cannot take this review (no result yet, or a correction without a label)."""

    code = "review_refused"

    def __init__(self, message) -> None:
        super().__init__(str(message))


def review_diagnostic(
    *, diagnostic: Diagnostic, actor: AbstractBaseUser, decision: str, label: str | None = None, note: str = "",
    audit: AuditContext | None = None,
) -> Diagnostic:  # fmt: skip
    """Record a clinician's review; a later review of the same diagnostic replaces it (audited)."""
    if diagnostic.status != DiagnosticStatus.SUCCEEDED or not diagnostic.label:
        raise ReviewRefused(_("Only a finished analysis with a result can be reviewed."))
    review_label = _review_label(diagnostic, decision, label)
    with transaction.atomic():
        locked = Diagnostic.objects.select_for_update().get(pk=diagnostic.pk)
        previous = locked.review_label
        locked.review_label = review_label
        locked.review_note = (note or "").strip()
        locked.reviewed_by = actor
        locked.reviewed_at = timezone.now()
        locked.review_imported = False  # a clinician's review replaces a data set's label
        locked.save(update_fields=REVIEW_FIELDS)
        record_event(
            action="diagnostic.reviewed", actor=actor, obj=locked, patient=diagnostic.patient,
            context=audit,
            detail={"decision": decision, "replaces_review": bool(previous),
                    "fields": REVIEW_FIELDS},
        )  # fmt: skip
        # The agreement row of its day (the beat task catches a message that is lost), and the
        # hospital's record (portal.fhir listens).
        transaction.on_commit(
            lambda: send_quietly("diagnostics.tasks.refresh_agreement", locked.pk, wait=False)
        )
        transaction.on_commit(
            lambda: signals.diagnostic_reviewed.send(sender=Diagnostic, diagnostic=locked)
        )
    for name in REVIEW_FIELDS:
        setattr(diagnostic, name, getattr(locked, name))
    return diagnostic


def _review_label(diagnostic: Diagnostic, decision: str, label: str | None) -> str:
    if decision == Decision.CONFIRM:
        return diagnostic.label_shown  # what the clinician saw: the quality gate's inconclusive too
    if decision == Decision.INCONCLUSIVE:
        return Label.INCONCLUSIVE
    if decision == Decision.CORRECT:
        if label not in Label.values:
            raise ReviewRefused(_("Choose the correct label."))
        return label
    raise ReviewRefused(_("Choose confirm, correct or inconclusive."))


def record_dataset_label(
    *, diagnostic: Diagnostic, label: str, source: str, status_field: str, status: str,
    licence: str,
) -> bool:  # fmt: skip
    """Record a public data set's label as the diagnostic's reviewed truth; True if written.

    No clinician decided it, so ``reviewed_by`` stays empty and the note names the source and the
    metadata field it came from. A review a clinician has made since is never overwritten, and
    the same label again writes nothing (a re-run of the import is silent).
    """
    if label not in (Label.HEALTHY, Label.ANOMALY):
        raise ValueError(f"not a label a data set can give: {label!r}")
    note = f"Label from the {source} data set, its {status_field} field: {status}"
    with transaction.atomic():
        locked = Diagnostic.objects.select_for_update().get(pk=diagnostic.pk)
        if locked.reviewed_by_id is not None or (
            locked.review_label == label and locked.review_note == note
        ):
            return False
        locked.review_label, locked.review_note = label, note
        locked.reviewed_by, locked.reviewed_at = None, timezone.now()
        locked.review_imported = True
        locked.save(update_fields=REVIEW_FIELDS)
        record_event(
            action="dataset.label_imported", obj=locked, patient=diagnostic.patient,
            detail={"dataset": source, "licence": licence, "status_field": status_field,
                    "fields": REVIEW_FIELDS},
        )  # fmt: skip
    for name in REVIEW_FIELDS:
        setattr(diagnostic, name, getattr(locked, name))
    return True
