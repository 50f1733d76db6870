"""Index builds in storage: written once by the job that built them, read by every process.

A build is three objects under ``RECOMMENDER_STORAGE_PREFIX`` in default storage (S3 in
production), all named ``index-<model version id>-<count>-<timestamp>``:

- ``.faiss``: the serialized FAISS index;
- ``.npz``: the id mapping (diagnostic id and site id of every row of the index);
- ``.json``: what the build covers: model version, count, high-water embedding id, kind,
  built_at, how long its steps took, and the keys of the other two (for operators and
  benchmarks; processes read the database row).

The ``IndexBuild`` row is written last, so a process that sees the row finds the files complete.
"""

import io
import json
import logging
import shutil
import tempfile
from pathlib import Path

import numpy as np
from django.conf import settings
from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from recommender import index as case_index
from recommender.models import IndexBuild

logger = logging.getLogger(__name__)

KEEP_BUILDS = 3


def save(
    snapshot: case_index.CaseIndex,
    *,
    reason: str,
    build_seconds: float,
    timings: dict | None = None,
) -> IndexBuild:
    built_at = timezone.now()
    stem = (
        f"{settings.RECOMMENDER_STORAGE_PREFIX}/index-{snapshot.model_version_id}-"
        f"{snapshot.count}-{built_at:%Y%m%dT%H%M%S%f}"
    )
    mapping = io.BytesIO()
    np.savez(mapping, ids=snapshot.ids, sites=snapshot.sites)
    with tempfile.TemporaryDirectory() as tmp:
        local = Path(tmp) / "index.faiss"
        case_index.write(snapshot, local)
        with local.open("rb") as handle:
            index_key = default_storage.save(f"{stem}.faiss", File(handle, name=f"{stem}.faiss"))
    mapping_key = default_storage.save(
        f"{stem}.npz", ContentFile(mapping.getvalue(), name=f"{stem}.npz")
    )
    meta = {
        "model_version": snapshot.model_version_id,
        "count": snapshot.count,
        "high_water": snapshot.high_water,
        "kind": snapshot.kind,
        "built_at": built_at.isoformat(),
        "build_seconds": round(build_seconds, 3),
        "reason": reason,
        "timings_s": timings or {},
        "index_key": index_key,
        "mapping_key": mapping_key,
    }
    meta_key = default_storage.save(
        f"{stem}.json", ContentFile(json.dumps(meta, indent=2).encode(), name=f"{stem}.json")
    )
    with transaction.atomic():
        build = IndexBuild.objects.create(
            model_version_id=snapshot.model_version_id, kind=snapshot.kind, count=snapshot.count,
            high_water=snapshot.high_water, index_key=index_key, mapping_key=mapping_key,
            meta_key=meta_key, built_at=built_at, build_seconds=build_seconds, reason=reason,
        )  # fmt: skip
    snapshot.build_id = build.pk
    snapshot.built_at = built_at
    return build


def load(build: IndexBuild) -> case_index.CaseIndex:
    """The index of ``build``, read from storage; raises OSError (or the S3 errors) if missing."""
    with tempfile.TemporaryDirectory() as tmp:
        local = Path(tmp) / "index.faiss"
        with default_storage.open(build.index_key, "rb") as source, local.open("wb") as target:
            shutil.copyfileobj(source, target, 1024 * 1024)
        faiss_index = case_index.read(local)
    with default_storage.open(build.mapping_key, "rb") as handle:
        mapping = np.load(io.BytesIO(handle.read()), allow_pickle=False)
        ids, sites = mapping["ids"], mapping["sites"]
    return case_index.CaseIndex(
        index=faiss_index, ids=ids, sites=sites, model_version_id=build.model_version_id,
        high_water=build.high_water, kind=build.kind, built_at=build.built_at,
        build_id=build.pk,
    )  # fmt: skip


def prune(*, keep: int = KEEP_BUILDS) -> int:
    """Delete all but the newest ``keep`` builds and their files (processes still loading an
    older one have a few builds' time to finish); returns how many were deleted."""
    stale = list(IndexBuild.objects.order_by("-id")[keep:])
    for build in stale:
        for key in (build.index_key, build.mapping_key, build.meta_key):
            default_storage.delete(key)
        build.delete()
    if stale:
        logger.info("old index builds deleted", extra={"count": len(stale)})
    return len(stale)
