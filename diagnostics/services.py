"""The clinician's writes about diagnostics: submitting a recording for analysis, and retries.

``submit_recording`` is the "store a recording, then diagnose it" workflow (docs/architecture.md,
"An upload"): the checks run first (nothing is written for a rejected upload), the object is
written before its row, the recording and its diagnostic commit in one transaction, and the
inference task is enqueued only after that commit. The other workflow steps have modules of their
own, each named after its step: ``reviews`` (a clinician's review), ``registry`` (model versions),
``inference`` (analysis), ``sweeper`` (work whose broker message was lost).
"""

import logging
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.db import DatabaseError, IntegrityError, transaction
from django.utils import timezone

from diagnostics import capacity, inference_queue, live
from diagnostics.models import Diagnostic, DiagnosticStatus
from media_assets import services as media
from media_assets.audio import AudioRejected
from media_assets.errors import RecordingNotSaved, UploadClosed
from media_assets.models import Recording, RecordingStatus
from media_assets.storage_breaker import admit_storage_write
from portal.core.audit import AuditContext, record_event
from portal.core.errors import Conflict
from portal.core.models import Patient

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Submission:
    recording: Recording
    diagnostic: Diagnostic
    duplicate: bool


def _existing_submission(patient: Patient, sha256: str) -> Submission | None:
    recording = media.find_stored_duplicate(patient=patient, sha256=sha256)
    if recording is None:
        return None
    return Submission(recording=recording, diagnostic=_first_diagnostic(recording), duplicate=True)


def submit_recording(
    *,
    patient: Patient,
    file,
    kind: str,
    symptoms: dict,
    actor: AbstractBaseUser,
    original_name: str = "",
    urgent: bool = False,
    audit: AuditContext | None = None,
    analyse: bool = True,
    kind_minimum: bool = True,
) -> Submission:
    """Check, store and enqueue an uploaded recording; the same bytes again return the first one.

    ``analyse=False`` stores it with an ``unanalysed`` diagnostic that no worker takes (a data
    set imported as training truth); ``request_analysis`` queues it later. ``kind_minimum=False``
    leaves out the per-kind minimum length the recorder asks of clinicians (a public data set's
    recordings keep their own lengths; ``RECORDING_MIN_SECONDS`` still applies).
    Raises ``media_assets.audio.AudioRejected`` for unusable audio, leaving nothing behind. The
    upload endpoint asks ``capacity.admit_upload`` first, before it charges the upload quotas.
    """
    inspected = media.inspect_audio(file=file, kind=kind if kind_minimum else None)
    existing = _existing_submission(patient, inspected.sha256)
    if existing is not None:
        return existing
    # While the store is known to be down, refuse before any row exists (the endpoint asked
    # already; this covers the other callers and an upload that was decoding when it opened).
    admit_storage_write()
    # The pending row first, committed on its own: a crash while the object is written leaves a
    # row naming it, which reconcile_storage finds at once (media_assets.services).
    try:
        pending = media.open_server_upload(
            patient=patient, kind=kind, inspected=inspected, original_name=original_name,
            user=actor,
        )  # fmt: skip
    except DatabaseError as exc:
        logger.warning("recording not saved", extra={"error": type(exc).__name__})
        raise RecordingNotSaved from exc
    try:
        with transaction.atomic():
            held = media.hold_upload(pending)  # live while this transaction lasts
            media.put_object(key=held.storage_key, file=file)
            return _stored_and_queued(
                held, inspected=inspected, symptoms=symptoms, urgent=urgent, actor=actor,
                audit=audit, analyse=analyse,
            )  # fmt: skip
    except IntegrityError:
        media.abandon_upload(pending)
        # Another upload of the same bytes for this patient committed first.
        existing = _existing_submission(patient, inspected.sha256)
        if existing is None:
            raise
        return existing
    except DatabaseError as exc:
        media.abandon_upload(pending)
        logger.warning("recording not saved", extra={"error": type(exc).__name__})
        raise RecordingNotSaved from exc
    except BaseException:
        media.abandon_upload(pending)
        raise


def complete_direct_upload(
    *,
    recording: Recording,
    symptoms: dict,
    actor: AbstractBaseUser,
    urgent: bool = False,
    audit: AuditContext | None = None,
) -> Submission:
    """Verify a direct upload's object, run the same checks as ``submit_recording``, and enqueue.

    Completing twice is harmless: a stored upload answers with its diagnostic again. While the
    inference queue is at its hard limit it raises ``capacity.QueueFull`` and the upload stays
    pending, to be completed again later.
    """
    if recording.status == RecordingStatus.STORED:
        return Submission(
            recording=recording, diagnostic=_first_diagnostic(recording), duplicate=False
        )
    if recording.status != RecordingStatus.PENDING:
        raise UploadClosed
    with media.fetch_uploaded_object(recording=recording) as content:
        try:
            inspected = media.inspect_audio(file=content, kind=recording.kind)
        except AudioRejected as error:
            media.reject_upload(recording=recording, error=error)
            raise
    existing = _existing_submission(recording.patient, inspected.sha256)
    if existing is not None:
        media.discard_pending_upload(recording=recording)
        return existing
    capacity.admit_upload()
    try:
        with transaction.atomic():
            locked = Recording.objects.select_for_update().get(pk=recording.pk)
            if locked.status != RecordingStatus.PENDING:  # a concurrent complete won
                return Submission(
                    recording=locked, diagnostic=_first_diagnostic(locked), duplicate=False
                )
            return _stored_and_queued(
                locked, inspected=inspected, symptoms=symptoms, urgent=urgent, actor=actor,
                audit=audit, detail={"direct_upload": True},
            )  # fmt: skip
    except IntegrityError:
        existing = _existing_submission(recording.patient, inspected.sha256)
        if existing is None:
            raise
        media.discard_pending_upload(recording=recording)
        return existing


def retry_diagnostic(
    *, diagnostic: Diagnostic, actor: AbstractBaseUser, audit: AuditContext | None = None
) -> Diagnostic:
    """Send a failed diagnostic back to the queue with fresh attempts (a clinician's decision)."""
    with transaction.atomic():
        updated = Diagnostic.objects.filter(
            pk=diagnostic.pk, status=DiagnosticStatus.FAILED
        ).update(
            status=DiagnosticStatus.QUEUED, error="", attempts=0, task_id="",
            queued_at=timezone.now(), started_at=None, finished_at=None,
        )  # fmt: skip
        if not updated:
            raise DiagnosticNotRetryable
        record_event(
            action="diagnostic.retried", actor=actor, obj=diagnostic, patient=diagnostic.patient,
            context=audit,
        )  # fmt: skip
        inference_queue.send_on_commit(diagnostic.pk)
    diagnostic.refresh_from_db()
    transaction.on_commit(lambda: live.publish(diagnostic))
    return diagnostic


def request_analysis(*, diagnostic: Diagnostic, actor=None) -> bool:
    """Queue an ``unanalysed`` diagnostic for the model; False when it was not unanalysed."""
    with transaction.atomic():
        updated = Diagnostic.objects.filter(
            pk=diagnostic.pk, status=DiagnosticStatus.UNANALYSED
        ).update(status=DiagnosticStatus.QUEUED, queued_at=timezone.now())
        if not updated:
            return False
        record_event(
            action="diagnostic.analysis_requested", actor=actor, obj=diagnostic,
            patient=diagnostic.patient,
        )  # fmt: skip
        inference_queue.send_on_commit(diagnostic.pk)
    diagnostic.refresh_from_db()
    return True


class DiagnosticNotRetryable(Conflict):
    code = "not_retryable"
    default_message = "Only a failed analysis can be retried."


def _first_diagnostic(recording: Recording) -> Diagnostic | None:
    return recording.diagnostics.order_by("queued_at", "id").first()


def _stored_and_queued(
    recording: Recording,
    *,
    inspected,
    symptoms: dict,
    urgent: bool,
    actor,
    audit,
    analyse: bool = True,
    detail: dict | None = None,
) -> Submission:
    """Inside the caller's transaction, once the object is in the store: the recording marked
    stored, its diagnostic queued (sent to a worker at commit), and the upload audited."""
    recording = media.mark_upload_stored(recording=recording, inspected=inspected)
    diagnostic = _queue_diagnostic(
        recording=recording, symptoms=symptoms, urgent=urgent, analyse=analyse
    )
    record_event(
        action="recording.created", actor=actor, obj=recording, patient=recording.patient,
        context=audit,
        detail={"kind": recording.kind, "diagnostic": diagnostic.pk, "urgent": urgent,
                **(detail or {})},
    )  # fmt: skip
    return Submission(recording=recording, diagnostic=diagnostic, duplicate=False)


def _queue_diagnostic(
    *, recording: Recording, symptoms: dict, urgent: bool = False, analyse: bool = True
) -> Diagnostic:
    diagnostic = Diagnostic.objects.create(
        recording=recording, patient=recording.patient, symptoms=symptoms, urgent=urgent,
        queued_at=timezone.now(),
        status=DiagnosticStatus.QUEUED if analyse else DiagnosticStatus.UNANALYSED,
    )  # fmt: skip
    if not analyse:
        return diagnostic
    inference_queue.send_on_commit(diagnostic.pk)
    # The response need not wait for Redis: the page reads the same state from the database.
    transaction.on_commit(lambda: live.publish_many([diagnostic], wait=False))
    return diagnostic
