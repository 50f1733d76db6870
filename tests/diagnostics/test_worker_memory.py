"""The serving process keeps freed memory for reuse (``model_cache._keep_freed_memory``): a model
call on a new batch does not fault its memory in afresh from the kernel."""

import ctypes.util
import json
import os

import pytest

from diagnostics.ml.model import ModelMetadata
from portal.management.commands.runstack import inference_env
from tests.processes import printed_json

pytestmark = pytest.mark.skipif(
    "libc.so.6" not in str(ctypes.util.find_library("c")), reason="glibc's allocator only"
)

# In a process of its own (the allocator's settings are for the whole process, for good): page
# faults per model call, each call on a newly made batch of eight 5-second clips, as a task's.
MEASURE = """
import json, os, resource, sys
import django
import numpy as np
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
django.setup()
from diagnostics import model_cache
from diagnostics.ml.model import LoadedModel, ModelMetadata, build_model
if sys.argv[1] == "keep":
    model_cache._keep_freed_memory()
else:  # glibc's defaults, pinned (see the test's docstring)
    model_cache.set_allocator_thresholds(mmap=128 * 1024, trim=128 * 1024)
metadata = ModelMetadata.from_dict(json.loads(sys.argv[2]))
model = LoadedModel(build_model(metadata.labels, metadata.features, metadata.clip_seconds), metadata)
rng = np.random.default_rng(0)
def call():
    model.infer(model.fit([rng.standard_normal(80_000).astype(np.float32) for _ in range(8)]))
for _ in range(3):
    call()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(10):
    call()
print(json.dumps((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 10))
"""


def faults_per_call(mode: str) -> float:
    metadata = ModelMetadata(
        name="untrained", version="0", labels=("healthy", "anomaly"), clip_seconds=5.0
    )
    env = inference_env({**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    return printed_json(["-c", MEASURE, mode, json.dumps(metadata.to_dict())], env=env)


def test_a_model_call_on_a_new_batch_reuses_memory_instead_of_faulting_it_in():
    """Against glibc's default thresholds (128 KiB), pinned: left alone, glibc raises them after
    some frees of large blocks, depending on the order of frees across threads, so a default
    process may fault every call (the measured worker: about 1,200 pages a call) or not. The
    pinned defaults make the comparison the same on every run."""
    by_default, kept = faults_per_call("default"), faults_per_call("keep")

    assert by_default > 300  # the batch alone is 625 pages
    assert kept < by_default / 10
