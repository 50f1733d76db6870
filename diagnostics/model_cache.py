"""Models loaded once per worker process, swapped when the registry points elsewhere.

A task asks for the version the registry names; the cache loads it on first use (verifying the
artifact's sha256 against the registry), keeps it warm, and drops versions that are no longer
production or canary, so a promotion takes effect on the next task without a restart.

Before the first model of a process is loaded, TensorFlow is told to grow GPU memory as needed
rather than take the whole card, and the device that will serve is logged: one inference worker
process per GPU, each pinned to its card by ``CUDA_VISIBLE_DEVICES``. The C allocator is told to
keep freed memory for reuse (``_keep_freed_memory``).
"""

import ctypes
import logging
import shutil
import threading
from pathlib import Path

import tensorflow as tf
from django.conf import settings
from django.core.files.storage import default_storage

from diagnostics.ml.model import ArtifactError, LoadedModel, load_artifact
from diagnostics.models import ModelVersion
from portal.core.heap import refreeze
from portal.core.storage import STORAGE_ERRORS

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_loaded: dict[int, LoadedModel] = {}
_process_ready = False

# glibc's mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
KEEP_FREED_BYTES = 128 << 20
MMAP_THRESHOLD_BYTES = 32 << 20  # glibc's largest


def _keep_freed_memory() -> None:
    """Let the C allocator keep freed memory for the next batch instead of returning it.

    By default glibc maps every block over 128 KiB afresh and unmaps it when freed, and trims
    the heap past 128 KiB of free space. A clip (320 KB as float32), a batch and most of the
    model's tensors are that size, so every model call touched about 1,200 pages new to the
    process: on a virtual machine those faults cost a third of the call (batch of 8: 23 ms
    against 17 ms, docs/benchmarks.md). Kept for reuse, they cost nothing after the first
    batch; the price is up to ``KEEP_FREED_BYTES`` of freed memory held by the worker. Not
    glibc (musl, macOS): nothing to tune.
    """
    set_allocator_thresholds(mmap=MMAP_THRESHOLD_BYTES, trim=KEEP_FREED_BYTES)


def set_allocator_thresholds(*, mmap: int, trim: int) -> None:
    """glibc's ``mallopt`` for its mmap and trim thresholds, fixed (no longer adapted by glibc)."""
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):
        return
    mallopt(_M_MMAP_THRESHOLD, mmap)
    mallopt(_M_TRIM_THRESHOLD, trim)


def _prepare_process() -> None:
    """Once per serving process: memory growth on every visible GPU (only possible before
    TensorFlow first uses them), the device logged, the allocator tuned."""
    global _process_ready
    if _process_ready:
        return
    _keep_freed_memory()
    gpus = tf.config.list_physical_devices("GPU")
    for gpu in gpus:
        try:
            tf.config.experimental.set_memory_growth(gpu, True)
        except RuntimeError as exc:  # this process already initialised the device
            logger.warning(
                "GPU memory growth not set", extra={"device": gpu.name, "error": str(exc)}
            )
    logger.info(
        "inference device",
        extra={"device": gpus[0].name if gpus else "CPU", "visible_gpus": [g.name for g in gpus]},
    )
    _process_ready = True


def _local_copy(version: ModelVersion) -> Path:
    """Artifacts live in storage (S3 in production); TensorFlow wants a local file."""
    cache_dir = Path(settings.MODEL_CACHE_DIR)
    cache_dir.mkdir(parents=True, exist_ok=True)
    path = cache_dir / f"{version.sha256}.zip"
    if not path.exists():
        partial = path.with_suffix(".partial")
        with default_storage.open(version.artifact, "rb") as source, partial.open("wb") as target:
            shutil.copyfileobj(source, target, 1024 * 1024)
        partial.replace(path)
    return path


def get_model(version: ModelVersion) -> LoadedModel:
    """The loaded model for ``version``; raises ``ArtifactError`` for a missing or corrupt one."""
    with _lock:
        model = _loaded.get(version.pk)
        if model is None:
            _prepare_process()
            try:
                path = _local_copy(version)
            except STORAGE_ERRORS as exc:
                raise ArtifactError(f"the artifact of {version} cannot be read: {exc}") from exc
            try:
                model = load_artifact(path, expected_sha256=version.sha256)
            except ArtifactError:
                path.unlink(missing_ok=True)  # fetch it afresh once the artifact is fixed
                raise
            model.warm_up()
            _loaded[version.pk] = model
            logger.info("model loaded", extra={"model_version": str(version)})
            # TensorFlow's and the model's objects, out of the collector's full passes: a
            # pass over them held the next batch (portal/core/heap.py).
            refreeze("model loaded")
        return model


def retain_only(version_ids: set[int]) -> None:
    """Forget models the registry no longer routes to (after a promotion or archive)."""
    with _lock:
        stale = set(_loaded) - version_ids
        for version_id in stale:
            del _loaded[version_id]
            logger.info("model unloaded", extra={"model_version_id": version_id})
        if stale:
            refreeze("model unloaded")  # frozen, its cycles would never be freed
