"""Keeping the similar-case index true: new embeddings, full rebuilds, model promotions.

- ``index_diagnostic``: one finished diagnostic into the live index (its embedding stored for the
  production version; processes add it to their delta within seconds) and its review priority.
- ``sync_index`` (periodic): stores recent embeddings the inference workers wrote, and says
  whether a rebuild is due: no build yet, a build of another model version than production (a
  promotion happened: the registry is compared here, so diagnostics never calls the recommender),
  or a delta grown past ``RECOMMENDER_REBUILD_DELTA``.
- ``rebuild_index``: every embedding of the production version into a new build, persisted, then
  served. One at a time (a lock in the cache); searches meanwhile use the previous build.
- ``reembed_step``: after a promotion, the new model's embeddings of older diagnostics, a batch at
  a time (the tasks chain the steps); each batch reaches the live index through the delta.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from diagnostics import registry
from diagnostics.models import Diagnostic, DiagnosticStatus, ModelVersion
from recommender import embeddings, index, snapshots
from recommender.live import live_index
from recommender.models import CaseEmbedding, IndexBuild
from recommender.priority import refresh_review_priorities

logger = logging.getLogger(__name__)

REBUILD_LOCK = "recommender:rebuild"
REEMBED_LOCK = "recommender:reembed:{version}"
# Once a version's re-embedding is complete, the (full-table) check for more is repeated daily;
# results analysed by another version meanwhile (a canary's) come through index_diagnostic.
REEMBED_DONE = "recommender:reembed-done:{version}"
REBUILD_LOCK_S = 30 * 60
REEMBED_LOCK_S = 10 * 60
REEMBED_DONE_S = 24 * 3600


@dataclass(frozen=True)
class IndexStatus:
    production: ModelVersion | None
    build: IndexBuild | None
    delta: int
    rebuild_reason: str | None
    reembed_pending: bool


def index_status() -> IndexStatus:
    production = registry.production_version()
    build = IndexBuild.objects.order_by("-id").first()
    delta = 0
    reason = None
    if production is None:
        pass
    elif build is None:
        reason = "first"
    elif build.model_version_id != production.pk:
        reason = "promotion"
    else:
        delta = CaseEmbedding.objects.filter(
            model_version=production, pk__gt=build.high_water
        ).count()
        if delta >= settings.RECOMMENDER_REBUILD_DELTA:
            reason = "delta"
    pending = production is not None and _reembed_pending(production)
    return IndexStatus(production, build, delta, reason, pending)


def _reembed_pending(version: ModelVersion) -> bool:
    done = REEMBED_DONE.format(version=version.pk)
    if cache.get(done):
        return False
    pending = (
        Diagnostic.objects.filter(status=DiagnosticStatus.SUCCEEDED)
        .exclude(model_version=version)
        .exclude(embeddings__model_version=version)
        .exists()
    )
    if not pending:
        cache.set(done, True, timeout=REEMBED_DONE_S)
    return pending


def sync_index() -> IndexStatus:
    """Store recent inference embeddings of the production model; report what is due."""
    production = registry.production_version()
    if production is not None:
        since = timezone.now() - timedelta(hours=settings.RECOMMENDER_SYNC_WINDOW_H)
        stored = embeddings.store_inference_embeddings(version=production, since=since)
        if stored:
            logger.info("embeddings indexed", extra={"count": stored})
    return index_status()


def index_diagnostic(*, diagnostic_id: int) -> bool:
    """Bring one finished diagnostic into the live index; False when there is nothing to do."""
    production = registry.production_version()
    diagnostic = (
        Diagnostic.objects.filter(pk=diagnostic_id, status=DiagnosticStatus.SUCCEEDED)
        .select_related("recording")
        .first()
    )
    if production is None or diagnostic is None:
        return False
    if diagnostic.model_version_id == production.pk:
        embeddings.store_inference_embeddings(version=production, diagnostic_ids=[diagnostic_id])
    elif not CaseEmbedding.objects.filter(diagnostic=diagnostic, model_version=production).exists():
        embeddings.embed_diagnostics([diagnostic], production, _model(production))
    if not diagnostic.review_label:
        live_index.refresh(wait=True)
        refresh_review_priorities(diagnostic_ids=[diagnostic_id])
    return True


DUE_REASONS = ("first", "promotion", "delta")


def rebuild_running() -> bool:
    return cache.get(REBUILD_LOCK) is not None


def rebuild_index(*, reason: str = "scheduled") -> IndexBuild | None:
    """A full build of the production version's embeddings; None if another one is running, or
    if ``reason`` is one ``sync_index`` gave and an earlier rebuild has dealt with it."""
    token = uuid.uuid4().hex
    if not cache.add(REBUILD_LOCK, token, timeout=REBUILD_LOCK_S):
        logger.info("index rebuild already running")
        return None
    try:
        if reason in DUE_REASONS and index_status().rebuild_reason is None:
            return None
        return _rebuild(reason)
    finally:
        if cache.get(REBUILD_LOCK) == token:
            cache.delete(REBUILD_LOCK)


def _rebuild(reason: str) -> IndexBuild | None:
    version = registry.production_version()
    if version is None:
        return None
    embeddings.store_inference_embeddings(version=version)
    started = time.perf_counter()
    vectors, ids, sites, high_water = embeddings.all_vectors(version.pk)
    read_s = time.perf_counter() - started
    snapshot = index.build(vectors, ids, sites, model_version_id=version.pk, high_water=high_water)
    build_s = time.perf_counter() - started - read_s
    timings = {"read": round(read_s, 3), "build": round(build_s, 3)}
    build = snapshots.save(
        snapshot, reason=reason, build_seconds=time.perf_counter() - started, timings=timings
    )
    live_index.install(snapshot)
    snapshots.prune()
    logger.info(
        "index rebuilt",
        extra={"build": build.pk, "count": build.count, "kind": build.kind, "reason": reason,
               "total_s": round(build.build_seconds, 2), **{f"{k}_s": v for k, v in timings.items()}},
    )  # fmt: skip
    return build


def _model(version: ModelVersion):
    from diagnostics.model_cache import get_model  # TensorFlow: only where a model runs

    return get_model(version)


def claim_reembedding(version: ModelVersion) -> bool:
    """True for the one caller that may start (or continue) re-embedding for ``version``."""
    return cache.add(REEMBED_LOCK.format(version=version.pk), "1", timeout=REEMBED_LOCK_S)


def reembed_step(*, version_id: int, phase: str, after_id: int) -> embeddings.ReembedProgress:
    """One batch of re-embedding; stops (phase None) once ``version_id`` is not in production."""
    production = registry.production_version()
    key = REEMBED_LOCK.format(version=version_id)
    if production is None or production.pk != version_id:
        cache.delete(key)
        return embeddings.ReembedProgress(None, 0, 0, 0)
    cache.set(key, "1", timeout=REEMBED_LOCK_S)  # still alive
    progress = embeddings.reembed(
        version=production, model=_model(production), phase=phase, after_id=after_id
    )
    if progress.phase is None:
        cache.delete(key)
        cache.set(REEMBED_DONE.format(version=version_id), True, timeout=REEMBED_DONE_S)
    return progress
