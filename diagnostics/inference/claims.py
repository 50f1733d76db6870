"""Claiming waiting diagnostics for a task: its own, a batch beside it, and the batch after.

Idempotent by construction: a task only claims a diagnostic that is queued, or one that this same
task (a redelivered message) claimed before it died; a finished diagnostic is never touched again.
``attempts`` counts claims in the database, because the broker does not count redeliveries: a
diagnostic whose analysis keeps killing its worker fails after ``INFERENCE_MAX_ATTEMPTS`` instead of
cycling forever. A first attempt's message claims up to ``INFERENCE_BATCH_SIZE`` waiting first
attempts from the head of the queue (``QUEUE_ORDER``: urgent ones first, then the longest
waiting), its own among them unless the batch is full before it; anything tried before runs
alone. Each claim passes the broker's next message on
(``inference_queue.pass_on``) for the first attempts it leaves waiting.
"""

import logging

from django.conf import settings
from django.db import DatabaseError, transaction
from django.db.models import F, Q
from django.utils import timezone

from diagnostics import inference_queue
from diagnostics.inference.results import fail
from diagnostics.metrics import QUEUE_WAIT_SECONDS
from diagnostics.models import QUEUE_ORDER, Diagnostic, DiagnosticStatus

logger = logging.getLogger("diagnostics.inference")

NOT_LOOKED = object()  # a claim that did not find out which first attempt waits longest


def claim_next(task_id: str) -> tuple[list[Diagnostic], int | None]:
    """The next batch of waiting first attempts, for a task that has one in the model."""
    size = max(1, settings.INFERENCE_BATCH_SIZE)
    with transaction.atomic():
        waiting = _waiting_first_attempts(limit=size + 1)
        claimed = waiting[:size]
        _mark_running(claimed, task_id)
    return claimed, waiting[size].pk if len(waiting) > size else None


def after_claim(claimed: list[Diagnostic], oldest_waiting) -> tuple[list[Diagnostic], bool]:
    """The claimed batch in the order it is analysed, and whether first attempts still wait
    (for which the next message has been passed on)."""
    found_out = oldest_waiting is not NOT_LOOKED
    if not found_out:
        oldest_waiting = _first_attempts_waiting().values_list("pk", flat=True).first()
    inference_queue.pass_on(oldest_waiting)
    claimed.sort(key=lambda d: (not d.urgent, d.queued_at, d.pk))  # in QUEUE_ORDER
    for diagnostic in claimed:
        QUEUE_WAIT_SECONDS.observe((diagnostic.started_at - diagnostic.queued_at).total_seconds())
    # "running" is published once the batch's first call is on its way to the model (stream)
    return claimed, found_out and oldest_waiting is not None


def claim_batch(diagnostic_id: int, task_id: str) -> tuple[list[Diagnostic], object]:
    """(the diagnostics claimed, the oldest first attempt left waiting: an id, None, or
    ``NOT_LOOKED`` when this claim did not find out)."""
    claimable = Diagnostic.objects.filter(pk=diagnostic_id).filter(
        Q(status=DiagnosticStatus.QUEUED) | Q(status=DiagnosticStatus.RUNNING, task_id=task_id)
    )
    with transaction.atomic():
        # Rows are read with what the analysis needs, and only the diagnostics locked.
        mine = _for_analysis(claimable.select_for_update(of=("self",))).first()
        if mine is None:
            # Finished, failed, or someone else's. A redelivered task whose worker died in a
            # later batch than its own diagnostic's sends that batch back to the queue.
            _requeue_batch_mates(task_id)
            return [], NOT_LOOKED
        redelivery = mine.status == DiagnosticStatus.RUNNING
        if redelivery:
            _requeue_batch_mates(task_id, keep=mine)
        if mine.attempts >= settings.INFERENCE_MAX_ATTEMPTS:
            fail(mine, "too_many_attempts")
            return [], NOT_LOOKED
        claimed, oldest_waiting = [mine], NOT_LOOKED
        if not redelivery and mine.attempts == 0:
            # A first attempt's message starts the head of the queue, which is this diagnostic
            # unless urgent or older ones wait ahead of it (then it waits for the message passed
            # on). One row more than the batch takes: the next left waiting, for that message.
            size = max(1, settings.INFERENCE_BATCH_SIZE)
            waiting = _waiting_first_attempts(limit=size + 1)
            claimed = waiting[:size]
            oldest_waiting = waiting[size].pk if len(waiting) > size else None
        _mark_running(claimed, task_id)
    return claimed, oldest_waiting


def _mark_running(claimed: list[Diagnostic], task_id: str) -> None:
    """One UPDATE for the batch (in the claim's transaction), mirrored on the objects."""
    now = timezone.now()
    Diagnostic.objects.filter(pk__in=[d.pk for d in claimed]).update(
        status=DiagnosticStatus.RUNNING, started_at=now, attempts=F("attempts") + 1,
        task_id=task_id, error="",
    )  # fmt: skip
    for diagnostic in claimed:  # as the UPDATE left them, without reading them back
        diagnostic.status, diagnostic.started_at, diagnostic.task_id, diagnostic.error = (
            DiagnosticStatus.RUNNING, now, task_id, ""
        )  # fmt: skip
        diagnostic.attempts += 1


# What the analysis and its live messages read of a claimed row (the recording's kind and quality
# for the quality gate). The rest (symptoms, review, the recording's other metadata) stays in the database: the claim is the worker's busiest query, and Django
# compiles and hydrates every column it selects. A queued diagnostic has no model version yet.
CLAIM_FIELDS = (
    "recording", "recording__storage_key", "recording__kind", "recording__quality", "patient", "status", "label", "confidence",
    "quality_gate", "review_label",
    "model_version", "task_id", "urgent", "queued_at", "started_at", "finished_at", "attempts", "error",
)  # fmt: skip


def _for_analysis(diagnostics):
    return diagnostics.select_related("recording").only(*CLAIM_FIELDS)


def _first_attempts_waiting():
    """In the order they are analysed (urgent first, then oldest), along the queue's index."""
    return Diagnostic.objects.filter(status=DiagnosticStatus.QUEUED, attempts=0).order_by(
        *QUEUE_ORDER
    )


def _waiting_first_attempts(*, limit: int) -> list[Diagnostic]:
    """Up to ``limit`` waiting first attempts from the head of the queue, not locked by another
    claim (which passes the message on for those after it by itself)."""
    waiting = _for_analysis(
        _first_attempts_waiting().select_for_update(skip_locked=True, of=("self",))
    )
    return list(waiting[:limit])


def release_claims(task_id: str) -> None:
    """Send every diagnostic this task still holds back to the queue (a task that gives up)."""
    try:
        _requeue_batch_mates(task_id)
    except DatabaseError:
        logger.warning("claims not released; the sweeper will", extra={"task_id": task_id})


def _requeue_batch_mates(task_id: str, *, keep: Diagnostic | None = None) -> None:
    """After a crash, the rest of the dead task's work goes back to the queue, a message each."""
    from diagnostics.tasks import run_diagnostic as task

    running = Diagnostic.objects.filter(status=DiagnosticStatus.RUNNING, task_id=task_id)
    if keep is not None:
        running = running.exclude(pk=keep.pk)
    mates = list(running.values_list("pk", flat=True))
    if mates:
        Diagnostic.objects.filter(pk__in=mates).update(status=DiagnosticStatus.QUEUED, task_id="")
        for pk in mates:
            task.delay_on_commit(pk)
