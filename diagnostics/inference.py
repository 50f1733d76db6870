"""Running diagnostics through the model: claim, batch, predict, record, publish.

Idempotent by construction: a task only claims a diagnostic that is queued, or one that this same
task (a redelivered message) claimed before it died; a finished diagnostic is never touched again.
``attempts`` counts claims in the database, because the broker does not count redeliveries: a
diagnostic whose analysis keeps killing its worker fails after ``INFERENCE_MAX_ATTEMPTS`` instead of
cycling forever. A diagnostic's first attempt also takes up to ``INFERENCE_BATCH_SIZE - 1`` other
waiting first attempts so the model runs on a batch under load; anything tried before (a redelivery,
or a survivor of a batch that died) runs alone, so one poisonous recording takes any given
diagnostic down with it at most once.
"""

import logging
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from diagnostics import live, registry
from diagnostics.failures import FAILURE_MESSAGES
from diagnostics.metrics import (
    BATCH_SIZE,
    END_TO_END_SECONDS,
    FAILURES,
    INFERENCE_SECONDS,
    QUEUE_WAIT_SECONDS,
    RESULTS,
)
from diagnostics.ml.model import ArtifactError
from diagnostics.model_cache import get_model, retain_only
from diagnostics.models import Diagnostic, DiagnosticStatus, Label, ModelStatus, ModelVersion
from media_assets import audio
from portal.storage import STORAGE_ERRORS

logger = logging.getLogger(__name__)


@dataclass
class Loaded:
    diagnostic: Diagnostic
    samples: object
    decode_ms: float


def run_diagnostic(*, diagnostic_id: int, task_id: str) -> None:
    claimed = claim(diagnostic_id=diagnostic_id, task_id=task_id)
    if claimed:
        analyse(claimed)


def claim(*, diagnostic_id: int, task_id: str) -> list[Diagnostic]:
    """Mark this diagnostic (and, on a first delivery, a batch of others) as running."""
    with transaction.atomic():
        mine = (
            Diagnostic.objects.select_for_update()
            .filter(pk=diagnostic_id)
            .filter(
                Q(status=DiagnosticStatus.QUEUED)
                | Q(status=DiagnosticStatus.RUNNING, task_id=task_id)
            )
            .first()
        )
        if mine is None:
            return []  # finished, failed, or someone else's: nothing to do
        redelivery = mine.status == DiagnosticStatus.RUNNING
        if redelivery:
            _requeue_batch_mates(mine, task_id)
        if mine.attempts >= settings.INFERENCE_MAX_ATTEMPTS:
            _fail(mine, "too_many_attempts")
            return []
        ids = [mine.pk]
        if not redelivery and mine.attempts == 0:
            ids += _waiting_batch(exclude=mine.pk)
        now = timezone.now()
        Diagnostic.objects.filter(pk__in=ids).update(
            status=DiagnosticStatus.RUNNING, started_at=now, attempts=F("attempts") + 1,
            task_id=task_id, error="",
        )  # fmt: skip
    claimed = list(
        Diagnostic.objects.filter(pk__in=ids).select_related("recording", "model_version")
    )
    for diagnostic in claimed:
        QUEUE_WAIT_SECONDS.observe((diagnostic.started_at - diagnostic.queued_at).total_seconds())
        live.publish(diagnostic)
    return claimed


def _waiting_batch(*, exclude: int) -> list[int]:
    size = settings.INFERENCE_BATCH_SIZE - 1
    if size <= 0:
        return []
    waiting = (
        Diagnostic.objects.select_for_update(skip_locked=True)
        .filter(status=DiagnosticStatus.QUEUED, attempts=0)
        .exclude(pk=exclude)
        .order_by("queued_at", "id")
        .values_list("pk", flat=True)[:size]
    )
    return list(waiting)


def _requeue_batch_mates(mine: Diagnostic, task_id: str) -> None:
    """After a crash, the rest of the dead batch goes back to the queue, one task each."""
    from diagnostics.tasks import run_diagnostic as task

    mates = list(
        Diagnostic.objects.filter(status=DiagnosticStatus.RUNNING, task_id=task_id)
        .exclude(pk=mine.pk)
        .values_list("pk", flat=True)
    )
    if mates:
        Diagnostic.objects.filter(pk__in=mates).update(status=DiagnosticStatus.QUEUED, task_id="")
        for pk in mates:
            task.delay_on_commit(pk)


def analyse(diagnostics: list[Diagnostic]) -> None:
    production = registry.production_version()
    canary = ModelVersion.objects.filter(status=ModelStatus.CANARY).first()
    retain_only({v.pk for v in (production, canary) if v is not None})
    groups: dict[ModelVersion | None, list[Diagnostic]] = {}
    for diagnostic in diagnostics:
        version = registry.version_for(diagnostic.pk, production=production, canary=canary)
        groups.setdefault(version, []).append(diagnostic)
    for version, members in groups.items():
        if version is None:
            for diagnostic in members:
                _fail(diagnostic, "no_model")
            continue
        _analyse_with(version, members)


def _analyse_with(version: ModelVersion, diagnostics: list[Diagnostic]) -> None:
    try:
        model = get_model(version)
    except ArtifactError as exc:
        logger.error(
            "model artifact unusable", extra={"model_version": str(version), "error": str(exc)}
        )
        for diagnostic in diagnostics:
            _fail(diagnostic, "model_unavailable")
        return
    loaded = [item for item in (_load_audio(d) for d in diagnostics) if item is not None]
    if not loaded:
        return
    started = time.perf_counter()
    predictions = model.predict([item.samples for item in loaded])
    seconds = time.perf_counter() - started
    INFERENCE_SECONDS.labels(str(version)).observe(seconds)
    BATCH_SIZE.observe(len(loaded))
    for item, prediction in zip(loaded, predictions, strict=True):
        _record_result(item, prediction, version, batch_ms=seconds * 1000, batch=len(loaded))


def _load_audio(diagnostic: Diagnostic) -> Loaded | None:
    started = time.perf_counter()
    try:
        with default_storage.open(diagnostic.recording.storage_key, "rb") as handle:
            decoded = audio.decode(
                handle,
                max_duration_s=settings.RECORDING_MAX_SECONDS,
                min_duration_s=0,
                target_rate=settings.ANALYSIS_SAMPLE_RATE,
            )
    except audio.AudioRejected:
        _fail(diagnostic, "undecodable")
        return None
    except STORAGE_ERRORS as exc:
        _retry_later(diagnostic, exc)
        return None
    return Loaded(diagnostic, decoded.samples, (time.perf_counter() - started) * 1000)


def _record_result(item: Loaded, prediction, version: ModelVersion, *, batch_ms, batch) -> None:
    diagnostic = item.diagnostic
    confident = prediction.confidence >= settings.INFERENCE_CONFIDENCE_THRESHOLD
    diagnostic.status = DiagnosticStatus.SUCCEEDED
    diagnostic.label = prediction.label if confident else Label.INCONCLUSIVE
    diagnostic.confidence = round(prediction.confidence, 6)
    diagnostic.scores = {label: round(p, 6) for label, p in prediction.scores.items()}
    diagnostic.model_version = version
    diagnostic.embedding = prediction.embedding.astype("float32").tobytes()
    diagnostic.finished_at = timezone.now()
    diagnostic.timings = {
        "queue_wait_s": round((diagnostic.started_at - diagnostic.queued_at).total_seconds(), 3),
        "decode_ms": round(item.decode_ms, 2),
        "batch_inference_ms": round(batch_ms, 2),
        "batch_size": batch,
    }
    with transaction.atomic():
        updated = Diagnostic.objects.filter(
            pk=diagnostic.pk, status=DiagnosticStatus.RUNNING, task_id=diagnostic.task_id
        ).update(
            status=diagnostic.status, label=diagnostic.label, confidence=diagnostic.confidence,
            scores=diagnostic.scores, model_version=version, embedding=diagnostic.embedding,
            finished_at=diagnostic.finished_at, timings=diagnostic.timings,
        )  # fmt: skip
        if updated:
            transaction.on_commit(lambda: _announce_result(diagnostic))


def _announce_result(diagnostic: Diagnostic) -> None:
    live.publish(diagnostic)
    logger.info(
        "diagnostic analysed",
        extra={
            "diagnostic": diagnostic.pk,
            "label": diagnostic.label,
            "model_version": str(diagnostic.model_version),
            "batch_size": diagnostic.timings["batch_size"],
        },
    )
    RESULTS.labels(diagnostic.label).inc()
    END_TO_END_SECONDS.observe((timezone.now() - diagnostic.queued_at).total_seconds())


def _fail(diagnostic: Diagnostic, reason: str) -> None:
    """End a diagnostic this task holds as failed; one that another task took over is left alone."""
    updated = Diagnostic.objects.filter(
        pk=diagnostic.pk,
        status__in=(DiagnosticStatus.QUEUED, DiagnosticStatus.RUNNING),
        task_id=diagnostic.task_id,
    ).update(
        status=DiagnosticStatus.FAILED, error=FAILURE_MESSAGES[reason], finished_at=timezone.now()
    )
    if not updated:
        return
    diagnostic.refresh_from_db()
    FAILURES.labels(reason).inc()
    logger.warning("diagnostic failed", extra={"diagnostic": diagnostic.pk, "reason": reason})
    transaction.on_commit(lambda: live.publish(diagnostic))


def _retry_later(diagnostic: Diagnostic, exc: BaseException) -> None:
    """A transient failure (storage timeout): back to the queue with a growing delay."""
    from diagnostics.tasks import run_diagnostic as task

    delay = min(60, 2 ** max(1, diagnostic.attempts))
    Diagnostic.objects.filter(pk=diagnostic.pk).update(status=DiagnosticStatus.QUEUED, task_id="")
    logger.warning(
        "transient failure, retrying",
        extra={"diagnostic": diagnostic.pk, "error": type(exc).__name__, "in_s": delay},
    )
    transaction.on_commit(lambda: task.apply_async((diagnostic.pk,), countdown=delay))
