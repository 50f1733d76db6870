"""Running diagnostics through the model: claim, batch, predict, record, publish.

Idempotent by construction: a task only claims a diagnostic that is queued, or one that this same
task (a redelivered message) claimed before it died; a finished diagnostic is never touched again.
``attempts`` counts claims in the database, because the broker does not count redeliveries: a
diagnostic whose analysis keeps killing its worker fails after ``INFERENCE_MAX_ATTEMPTS`` instead of
cycling forever. A diagnostic's first attempt also takes up to ``INFERENCE_BATCH_SIZE - 1`` other
waiting first attempts so the model runs on a batch under load; anything tried before (a redelivery,
or a survivor of a batch that died) runs alone, so one poisonous recording takes any given
diagnostic down with it at most once. While first attempts keep waiting, a task goes on from batch
to batch (``INFERENCE_DRAIN_S``), and each claim passes the broker's next message on
(``inference_queue``) so that another worker can take the batch after.
"""

import logging
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from diagnostics import inference_queue, live, recommender_hooks, registry
from diagnostics.failures import FAILURE_MESSAGES
from diagnostics.metrics import (
    BATCH_SIZE,
    END_TO_END_SECONDS,
    FAILURES,
    INFERENCE_SECONDS,
    QUEUE_WAIT_SECONDS,
    RESULTS,
)
from diagnostics.ml.model import ArtifactError, LoadedModel
from diagnostics.model_cache import get_model, retain_only
from diagnostics.models import Diagnostic, DiagnosticStatus, Label, ModelVersion
from media_assets import audio
from media_assets.storage import analysis_audio, is_s3
from portal.core.dispatch import send_quietly
from portal.core.storage import STORAGE_ERRORS
from portal.core.threads import process_executor

logger = logging.getLogger(__name__)

LOADER_THREADS = 8  # recordings of a batch fetched and decoded at once


@dataclass
class Loaded:
    diagnostic: Diagnostic
    samples: object
    decode_ms: float


def run_diagnostic(*, diagnostic_id: int, task_id: str) -> None:
    inference_queue.taken()
    claimed, more_waiting = _claimed(*_claim(diagnostic_id, task_id))
    if not claimed:
        return
    # When first attempts are still waiting after its batch, a task goes on to the next batch,
    # claimed under its own id while the model runs this batch's last call, for up to
    # INFERENCE_DRAIN_S: under load the model does not wait between batches for the claim, nor
    # for the broker and the worker's handing over of the next message. With nothing waiting,
    # a lone diagnostic's result is not held up by a claim that would find nothing. Work tried
    # before runs alone (nothing is claimed beside it, nor after it).
    until = time.monotonic() + settings.INFERENCE_DRAIN_S

    def next_batch() -> list[Diagnostic]:
        nonlocal more_waiting
        if not more_waiting or time.monotonic() >= until:
            return []
        batch, more_waiting = _claimed(*_claim_next(task_id))
        return batch

    tried_before = any(d.attempts > 1 for d in claimed)
    analyse(claimed, then=None if tried_before else next_batch)


def claim(*, diagnostic_id: int, task_id: str) -> list[Diagnostic]:
    """Mark this diagnostic (and, on a first delivery, a batch of others) as running.

    Then, whatever it found, the first attempts still waiting get their next message
    (``inference_queue.pass_on``) before the batch is analysed, so an idle worker takes them
    meanwhile: one message a batch, not one an upload.
    """
    return _claimed(*_claim(diagnostic_id, task_id))[0]


def _claim_next(task_id: str) -> tuple[list[Diagnostic], int | None]:
    """The next batch of waiting first attempts, for a task that has one in the model."""
    size = max(1, settings.INFERENCE_BATCH_SIZE)
    with transaction.atomic():
        waiting = _waiting_first_attempts(limit=size + 1)
        claimed = waiting[:size]
        _mark_running(claimed, task_id)
    return claimed, waiting[size].pk if len(waiting) > size else None


def _claimed(claimed: list[Diagnostic], oldest_waiting) -> tuple[list[Diagnostic], bool]:
    """The claimed batch in the order it is analysed, and whether first attempts still wait
    (for which the next message has been passed on)."""
    found_out = oldest_waiting is not NOT_LOOKED
    if not found_out:
        oldest_waiting = _first_attempts_waiting().values_list("pk", flat=True).first()
    inference_queue.pass_on(oldest_waiting)
    claimed.sort(key=lambda d: (d.queued_at, d.pk))  # the longest waiting go through first
    for diagnostic in claimed:
        QUEUE_WAIT_SECONDS.observe((diagnostic.started_at - diagnostic.queued_at).total_seconds())
    # "running" is published once the batch's first call is on its way to the model (analyse)
    return claimed, found_out and oldest_waiting is not None


NOT_LOOKED = object()  # a claim that did not find out which first attempt waits longest


def _claim(diagnostic_id: int, task_id: str) -> tuple[list[Diagnostic], object]:
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
            _fail(mine, "too_many_attempts")
            return [], NOT_LOOKED
        claimed, oldest_waiting = [mine], NOT_LOOKED
        if not redelivery and mine.attempts == 0:
            # One row more than the batch takes: the oldest left waiting, for the next message.
            size = max(1, settings.INFERENCE_BATCH_SIZE)
            waiting = _waiting_first_attempts(exclude=mine.pk, limit=size)
            oldest_waiting = waiting[-1].pk if len(waiting) == size else None
            claimed += waiting[: size - 1]
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


# What the analysis and its live messages read of a claimed row. The rest (symptoms, review, the
# recording's metadata) stays in the database: the claim is the worker's busiest query, and Django
# compiles and hydrates every column it selects. A queued diagnostic has no model version yet.
CLAIM_FIELDS = (
    "recording", "recording__storage_key", "patient", "status", "label", "confidence",
    "model_version", "task_id", "queued_at", "started_at", "finished_at", "attempts", "error",
)  # fmt: skip


def _for_analysis(diagnostics):
    return diagnostics.select_related("recording").only(*CLAIM_FIELDS)


def _first_attempts_waiting():
    return Diagnostic.objects.filter(status=DiagnosticStatus.QUEUED, attempts=0).order_by(
        "queued_at", "id"
    )


def _waiting_first_attempts(*, limit: int, exclude: int | None = None) -> list[Diagnostic]:
    """Up to ``limit`` waiting first attempts, oldest first, not locked by another claim (which
    passes the message on for those after it by itself)."""
    waiting = _for_analysis(
        _first_attempts_waiting().select_for_update(skip_locked=True, of=("self",))
    )
    if exclude is not None:
        waiting = waiting.exclude(pk=exclude)
    return list(waiting[:limit])


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


def analyse(diagnostics: list[Diagnostic], *, then=None) -> None:
    """Run a claimed batch through the model and record its results; then, if ``then`` is given,
    each batch it returns (it is called while the model runs the previous batch's last call),
    until it returns none.

    The batches go to the model as one stream of calls of ``INFERENCE_MODEL_BATCH`` on the model
    thread, which does nothing but run the model, with one call queued behind the one it runs:
    while the model works, this thread records the results of the call before, and loads and fits
    the audio of the call after (between batches it also claims the next), so the model waits for
    neither storage nor the database between calls, nor between batches. Live results go out a
    call at a time; the recommender's and the pictures' jobs once a batch (``_FollowUps``).
    """
    in_model: deque[_Call] = deque()
    follow_ups = _FollowUps()
    for call in _calls(diagnostics, then):
        call.start()
        if call.announce:
            # Published while the model works, not before it starts: a publish costs this
            # process's CPU, which the model would otherwise wait for.
            live.publish_many(call.announce, wait=False)
        in_model.append(call)
        if len(in_model) > 1:
            _finish(in_model.popleft(), follow_ups)
    while in_model:
        _finish(in_model.popleft(), follow_ups)
    follow_ups.send()


@dataclass
class _Call:
    """One model call: part of a claimed batch, for one model version, its audio loaded."""

    batch: list[Diagnostic]  # the claimed batch it is part of
    version: ModelVersion
    model: LoadedModel
    loaded: list[Loaded]
    announce: list[Diagnostic]  # "running" to publish once under way (a batch's first call)
    running: Future | None = None

    def start(self) -> None:
        """Fitted here, then queued on the model thread."""
        clips = self.model.fit([item.samples for item in self.loaded])
        self.running = process_executor("model").submit(_infer, self.model, self.version, clips)

    def results(self) -> list[Diagnostic]:
        """Its diagnostics with their results filled in (not saved), once the model has run."""
        probabilities, embeddings, seconds = self.running.result()
        predictions = self.model.predictions(probabilities, embeddings)
        return [
            _result(item, prediction, self.version, batch_ms=seconds * 1000, batch=len(self.loaded))
            for item, prediction in zip(self.loaded, predictions, strict=True)
        ]


def _calls(diagnostics: list[Diagnostic], then) -> Iterator[_Call]:
    batch = diagnostics
    while batch:
        yield from _calls_of(batch)
        batch = then() if then is not None else []


def _calls_of(batch: list[Diagnostic]) -> Iterator[_Call]:
    """A claimed batch's model calls, each loaded when asked for. The canary's share goes to its
    own calls; what no model can analyse, and unreadable recordings, are dealt with here."""
    size = max(1, settings.INFERENCE_MODEL_BATCH)
    # The first call's audio is read while the registry says which models serve: one waits on
    # storage and the decoder, the other on the database.
    first = batch[:size]
    early = _start_fetching(first)
    production, canary = registry.serving_versions()
    retain_only({v.pk for v in (production, canary) if v is not None})
    groups: dict[ModelVersion | None, list[Diagnostic]] = {}
    for diagnostic in batch:
        version = registry.version_for(diagnostic.pk, production=production, canary=canary)
        groups.setdefault(version, []).append(diagnostic)
    announced = False
    for version, members in groups.items():
        if version is None:
            for diagnostic in members:
                _fail(diagnostic, "no_model")
            continue
        try:
            model = get_model(version)
        except ArtifactError as exc:
            logger.error(
                "model artifact unusable", extra={"model_version": str(version), "error": str(exc)}
            )
            for diagnostic in members:
                _fail(diagnostic, "model_unavailable")
            continue
        for start in range(0, len(members), size):
            part = members[start : start + size]
            loaded = _load_batch(part, fetched=early if part == first else None)
            if not loaded:
                continue
            announce = (
                [] if announced else [d for d in batch if d.status == DiagnosticStatus.RUNNING]
            )
            announced = True
            yield _Call(batch, version, model, loaded, announce)


class _FollowUps:
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


def _finish(call: _Call, follow_ups: _FollowUps) -> None:
    follow_ups.add(call.batch, _record_results(call.results()))


def _start_follow_ups(diagnostics: list[Diagnostic]) -> None:
    # Neither waits: the model goes on while they are sent, in order, by the sender thread.
    recommender_hooks.index_results([diagnostic.pk for diagnostic in diagnostics], wait=False)
    # The pictures of the batch's recordings, off the upload's path and off the model's worker.
    send_quietly(
        "diagnostics.tasks.render_spectrograms", [d.recording_id for d in diagnostics], wait=False
    )


def _infer(model, version: ModelVersion, batch) -> tuple[object, object, float]:
    """One model call, on the model thread: (probabilities, embeddings, seconds)."""
    started = time.perf_counter()
    probabilities, embeddings = model.infer(batch)
    seconds = time.perf_counter() - started
    INFERENCE_SECONDS.labels(str(version)).observe(seconds)
    BATCH_SIZE.observe(len(batch))
    return probabilities, embeddings, seconds


def _start_fetching(diagnostics: list[Diagnostic]):
    """Fetch and decode these recordings on the loader threads; call the result for them."""
    pool = process_executor("audio-loader", LOADER_THREADS)
    if is_s3():
        futures = [pool.submit(_fetch_and_decode, diagnostic) for diagnostic in diagnostics]
        return lambda: [future.result() for future in futures]
    return pool.submit(lambda: [_fetch_and_decode(d) for d in diagnostics]).result


def _load_batch(diagnostics: list[Diagnostic], *, fetched=None) -> list[Loaded]:
    """The batch's audio, fetched and decoded; the unreadable ones are dealt with.

    With object storage each fetch is a network round trip, and the model should wait for the
    slowest of them, not for their sum, so they run side by side on loader threads. A local file
    is read and decoded in a fraction of a millisecond, less than handing it to a thread costs
    (16 files: 0.9 ms in turn, 2.8 ms on threads), so local storage is read in turn; only the
    first call's files go to a thread as one job (``fetched``), to be read while ``_calls_of``
    asks the registry which models serve. The loader threads touch storage only; what a failure
    means for a diagnostic is written here, on the task's own database connection.
    """
    if fetched is None:
        fetched = (
            _start_fetching(diagnostics)
            if is_s3()
            else lambda: [_fetch_and_decode(d) for d in diagnostics]
        )
    loaded = []
    for diagnostic, outcome in zip(diagnostics, fetched(), strict=True):
        if isinstance(outcome, audio.AudioRejected):
            _fail(diagnostic, "undecodable")
        elif isinstance(outcome, STORAGE_ERRORS):
            _retry_later(diagnostic, outcome)
        else:
            loaded.append(outcome)
    return loaded


def _fetch_and_decode(diagnostic: Diagnostic) -> Loaded | Exception:
    started = time.perf_counter()
    try:
        decoded = analysis_audio(diagnostic.recording.storage_key)
    except (audio.AudioRejected, *STORAGE_ERRORS) as exc:
        return exc
    return Loaded(diagnostic, decoded.samples, (time.perf_counter() - started) * 1000)


RESULT_FIELDS = [
    "status", "label", "confidence", "scores", "model_version", "embedding", "finished_at",
    "timings",
]  # fmt: skip


def _result(item: Loaded, prediction, version: ModelVersion, *, batch_ms, batch) -> Diagnostic:
    """The diagnostic with its result filled in (not saved)."""
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
    return diagnostic


def _record_results(results: list[Diagnostic]) -> list[Diagnostic]:
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
    diagnostic.status, diagnostic.task_id = DiagnosticStatus.QUEUED, ""
    logger.warning(
        "transient failure, retrying",
        extra={"diagnostic": diagnostic.pk, "error": type(exc).__name__, "in_s": delay},
    )
    transaction.on_commit(lambda: task.apply_async((diagnostic.pk,), countdown=delay))
