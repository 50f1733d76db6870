"""Recording what became of claimed diagnostics: a model call's results, failures, retries.

A call's results are one statement (``UPDATE … FROM (VALUES …) RETURNING``) that writes each row
only if it is still running under this task's id, so a result is recorded once even when the
sweeper handed the diagnostic to another task meanwhile. The live messages go out after the commit,
a call at a time; the follow-up jobs (the recommender's index, the spectrograms) once a batch.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from diagnostics import live, recommender_hooks, signals
from diagnostics.failures import FAILURE_MESSAGES
from diagnostics.metrics import END_TO_END_SECONDS, FAILURES, RESULTS
from diagnostics.models import Diagnostic, DiagnosticStatus, Label, ModelVersion
from diagnostics.quality_gate import gate_reason
from portal.core.dispatch import send_quietly

if TYPE_CHECKING:
    from diagnostics.inference.loading import Loaded

logger = logging.getLogger("diagnostics.inference")

RESULT_FIELDS = [
    "status", "label", "confidence", "scores", "quality_gate", "model_version", "embedding", "finished_at",
    "timings",
]  # fmt: skip


def result(item: Loaded, prediction, version: ModelVersion, *, batch_ms, batch) -> Diagnostic:
    """The diagnostic with its result filled in (not saved)."""
    diagnostic = item.diagnostic
    confident = prediction.confidence >= settings.INFERENCE_CONFIDENCE_THRESHOLD
    diagnostic.status = DiagnosticStatus.SUCCEEDED
    diagnostic.label = prediction.label if confident else Label.INCONCLUSIVE
    diagnostic.confidence = round(prediction.confidence, 6)
    diagnostic.scores = {label: round(p, 6) for label, p in prediction.scores.items()}
    diagnostic.quality_gate = gate_reason(diagnostic.recording)
    diagnostic.model_version = version
    diagnostic.embedding = prediction.embedding.astype("float32").tobytes()
    diagnostic.finished_at = timezone.now()
    diagnostic.timings = {
        "queue_wait_s": round((diagnostic.started_at - diagnostic.queued_at).total_seconds(), 3),
        "decode_ms": round(item.decode_ms, 2),
        "batch_inference_ms": round(batch_ms, 2),
        "batch_size": batch,
    }
    return diagnostic


def record_results(results: list[Diagnostic]) -> list[Diagnostic]:
    """Save a call's results, for the diagnostics this task still holds; the diagnostics written.

    One that the sweeper handed to another task meanwhile (its task id changed) is left to that
    task: each row is written only if it is still running under this task's id, a condition its
    UPDATE checks under the row's lock, so a result is recorded once. The live messages go out
    after the commit, for the rows written. The statement is its own transaction (one round trip
    to the database, where an explicit one cost three: BEGIN, the statement, COMMIT).
    """
    recorded = _write_results(results)
    transaction.on_commit(lambda: _announce_results(recorded))
    return recorded


def _write_results(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    """One ``UPDATE … FROM (VALUES …) RETURNING id`` for a model call; the diagnostics written.

    ``bulk_update`` would build a CASE expression per field and row, and resolving those cost
    more than the model's own time on a batch of 16; an ``UPDATE`` per row (pipelined) cost the
    database a statement each. Values are prepared by the fields themselves, so types (JSON,
    bytes, foreign keys, time zones) are exactly what ``save()`` would write. The same statement
    runs on PostgreSQL and SQLite (3.35 and later).
    """
    if not diagnostics:
        return []
    fields = [Diagnostic._meta.get_field(name) for name in RESULT_FIELDS]
    quote = connection.ops.quote_name
    columns = [quote(field.column) for field in fields]
    row = f"({', '.join(['%s'] * (len(fields) + 2))})"
    # Names from the model, quoted; every value is a parameter.
    table = quote(Diagnostic._meta.db_table)
    statement = (
        f"WITH v (row_id, row_task, {', '.join(columns)})"  # noqa: S608
        f" AS (VALUES {', '.join([row] * len(diagnostics))})"
        f" UPDATE {table} SET {', '.join(f'{column} = v.{column}' for column in columns)}"
        f" FROM v WHERE {table}.id = v.row_id AND {table}.task_id = v.row_task"
        f" AND {table}.status = %s RETURNING {table}.id"
    )
    values = [
        value
        for d in diagnostics
        for value in [d.pk, d.task_id]
        + [field.get_db_prep_save(getattr(d, field.attname), connection) for field in fields]
    ]
    with connection.cursor() as cursor:
        cursor.execute(statement, [*values, DiagnosticStatus.RUNNING.value])
        written = {pk for (pk,) in cursor.fetchall()}
    return [d for d in diagnostics if d.pk in written]


def _announce_results(diagnostics: list[Diagnostic]) -> None:
    live.publish_many(diagnostics, wait=False)  # the model goes on while they are sent, in order
    for diagnostic in diagnostics:
        logger.info(
            "diagnostic analysed",
            extra={
                "diagnostic": diagnostic.pk,
                "label": diagnostic.label,
                "quality_gate": diagnostic.quality_gate,
                "model_version": str(diagnostic.model_version),
                "batch_size": diagnostic.timings["batch_size"],
            },
        )
        RESULTS.labels(diagnostic.label).inc()
        END_TO_END_SECONDS.observe((timezone.now() - diagnostic.queued_at).total_seconds())


class FollowUps:
    """The jobs that recorded results start (their embeddings indexed for the recommender, their
    recordings' pictures rendered), one message each per claimed batch: a send costs the worker
    about 2 ms of Python beside the model."""

    def __init__(self) -> None:
        self.batch: list[Diagnostic] | None = None
        self.recorded: list[Diagnostic] = []

    def add(self, batch: list[Diagnostic], recorded: list[Diagnostic]) -> None:
        if batch is not self.batch:
            self.send()
            self.batch = batch
        self.recorded += recorded

    def send(self) -> None:
        recorded, self.recorded = self.recorded, []
        if recorded:
            transaction.on_commit(lambda: _start_follow_ups(recorded))


def _start_follow_ups(diagnostics: list[Diagnostic]) -> None:
    # Neither waits: the model goes on while they are sent, in order, by the sender thread.
    recommender_hooks.index_results([diagnostic.pk for diagnostic in diagnostics], wait=False)
    # The pictures of the batch's recordings, off the upload's path and off the model's worker.
    send_quietly(
        "diagnostics.tasks.render_spectrograms", [d.recording_id for d in diagnostics], wait=False
    )
    signals.results_recorded.send(sender=Diagnostic, diagnostics=diagnostics)


def fail(diagnostic: Diagnostic, reason: str, *, version: ModelVersion | None = None) -> None:
    """End a diagnostic this task holds as failed; one that another task took over is left alone.
    ``version``: the model it was routed to, recorded so that its failures count against it."""
    updated = Diagnostic.objects.filter(
        pk=diagnostic.pk,
        status__in=(DiagnosticStatus.QUEUED, DiagnosticStatus.RUNNING),
        task_id=diagnostic.task_id,
    ).update(
        status=DiagnosticStatus.FAILED, error=FAILURE_MESSAGES[reason], finished_at=timezone.now(),
        model_version=version.pk if version else diagnostic.model_version_id,
    )  # fmt: skip
    if not updated:
        return
    diagnostic.refresh_from_db()
    FAILURES.labels(reason).inc()
    logger.warning("diagnostic failed", extra={"diagnostic": diagnostic.pk, "reason": reason})
    transaction.on_commit(lambda: live.publish(diagnostic))


def retry_later(diagnostic: Diagnostic, exc: BaseException) -> None:
    """A transient failure (storage timeout): back to the queue with a growing delay."""
    from diagnostics.tasks import run_diagnostic as task

    delay = min(60, 2 ** max(1, diagnostic.attempts))
    Diagnostic.objects.filter(pk=diagnostic.pk).update(status=DiagnosticStatus.QUEUED, task_id="")
    diagnostic.status, diagnostic.task_id = DiagnosticStatus.QUEUED, ""
    logger.warning(
        "transient failure, retrying",
        extra={"diagnostic": diagnostic.pk, "error": type(exc).__name__, "in_s": delay},
    )
    transaction.on_commit(lambda: task.apply_async((diagnostic.pk,), countdown=delay))
