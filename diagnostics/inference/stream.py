"""The stream of model calls: batch after batch, with one call queued behind the one running.

The batches go to the model as one stream of calls of ``INFERENCE_MODEL_BATCH`` on the model
thread, which does nothing but run the model. While the model works, the task's own thread records
the results of the call before, and loads and fits the audio of the call after (between batches it
also claims the next), so the model waits for neither storage nor the database between calls, nor
between batches (docs/benchmarks.md).
"""

import logging
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import dataclass

from django.conf import settings

from diagnostics import live, registry
from diagnostics.inference.loading import Loaded, load_batch, start_fetching
from diagnostics.inference.results import FollowUps, fail, record_results, result
from diagnostics.inference.shadow import record_shadow_failures, record_shadow_results
from diagnostics.metrics import BATCH_SIZE, INFERENCE_SECONDS
from diagnostics.ml.model import ArtifactError, LoadedModel
from diagnostics.model_cache import get_model, retain_only
from diagnostics.models import Diagnostic, DiagnosticStatus, ModelVersion
from portal.core.threads import process_executor

logger = logging.getLogger("diagnostics.inference")


def analyse(diagnostics: list[Diagnostic], *, then=None) -> None:
    """Run a claimed batch through the model and record its results; then, if ``then`` is given,
    each batch it returns (it is called while the model runs the previous batch's last call),
    until it returns none. Live results go out a call at a time; the recommender's and the
    pictures' jobs once a batch (``FollowUps``).
    """
    in_model: deque[_Call] = deque()
    follow_ups = FollowUps()
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
    shadow: bool = False  # a shadow model's call: its answers are stored apart, never shown
    running: Future | None = None

    def start(self) -> None:
        """Fitted here, then queued on the model thread."""
        clips = self.model.fit([item.samples for item in self.loaded])
        self.running = process_executor("model").submit(_infer, self.model, self.version, clips)

    def predictions(self) -> tuple[list, float]:
        """(one prediction per loaded clip, the model's seconds), once the model has run."""
        probabilities, embeddings, seconds = self.running.result()
        return self.model.predictions(probabilities, embeddings), seconds

    def results(self) -> list[Diagnostic]:
        """Its diagnostics with their results filled in (not saved), once the model has run."""
        predictions, seconds = self.predictions()
        return [
            result(item, prediction, self.version, batch_ms=seconds * 1000, batch=len(self.loaded))
            for item, prediction in zip(self.loaded, predictions, strict=True)
        ]


def _calls(diagnostics: list[Diagnostic], then) -> Iterator[_Call]:
    batch = diagnostics
    while batch:
        yield from calls_of(batch)
        batch = then() if then is not None else []


def calls_of(batch: list[Diagnostic]) -> Iterator[_Call]:
    """A claimed batch's model calls, each loaded when asked for. The canary's share goes to its
    own calls; what no model can analyse, and unreadable recordings, are dealt with here."""
    size = max(1, settings.INFERENCE_MODEL_BATCH)
    # The first call's audio is read while the registry says which models serve: one waits on
    # storage and the decoder, the other on the database.
    first = batch[:size]
    early = start_fetching(first)
    production, canary, shadow = registry.serving_and_shadow()
    retain_only({v.pk for v in (production, canary, shadow) if v is not None})
    groups: dict[ModelVersion | None, list[Diagnostic]] = {}
    for diagnostic in batch:
        version = registry.version_for(diagnostic.pk, production=production, canary=canary)
        groups.setdefault(version, []).append(diagnostic)
    announced = False
    for version, members in groups.items():
        if version is None:
            for diagnostic in members:
                fail(diagnostic, "no_model")
            continue
        model = _model_or_fail(version, members)
        if model is None:
            continue
        for start in range(0, len(members), size):
            part = members[start : start + size]
            loaded = load_batch(part, fetched=early if part == first else None, version=version)
            if not loaded:
                continue
            announce = (
                [] if announced else [d for d in batch if d.status == DiagnosticStatus.RUNNING]
            )
            announced = True
            yield _Call(batch, version, model, loaded, announce)
            if version == production:  # paired with production's answers on the same audio
                yield from shadow_calls(batch, shadow, loaded)


def _model_or_fail(version: ModelVersion, members: list[Diagnostic]) -> LoadedModel | None:
    try:
        return get_model(version)
    except ArtifactError as exc:
        logger.error(
            "model artifact unusable", extra={"model_version": str(version), "error": str(exc)}
        )
        for diagnostic in members:
            fail(diagnostic, "model_unavailable", version=version)
        return None


def shadow_calls(batch, shadow: ModelVersion | None, loaded: list[Loaded]) -> Iterator[_Call]:
    """The shadow model's call on the same audio (its share of it): answers stored apart."""
    mine = [item for item in loaded if registry.shadows(item.diagnostic.pk, shadow)]
    if not mine:
        return
    try:
        model = get_model(shadow)
    except ArtifactError as exc:
        logger.error(
            "shadow model unusable", extra={"model_version": str(shadow), "error": str(exc)}
        )
        record_shadow_failures(shadow, [item.diagnostic for item in mine], "model_unavailable")
        return
    yield _Call(batch, shadow, model, mine, announce=[], shadow=True)


def _finish(call: _Call, follow_ups: FollowUps) -> None:
    if call.shadow:
        record_shadow_results(call.version, call.loaded, call.predictions()[0])
        return
    follow_ups.add(call.batch, record_results(call.results()))


def _infer(model, version: ModelVersion, batch) -> tuple[object, object, float]:
    """One model call, on the model thread: (probabilities, embeddings, seconds)."""
    started = time.perf_counter()
    probabilities, embeddings = model.infer(batch)
    seconds = time.perf_counter() - started
    INFERENCE_SECONDS.labels(str(version)).observe(seconds)
    BATCH_SIZE.observe(len(batch))
    return probabilities, embeddings, seconds
