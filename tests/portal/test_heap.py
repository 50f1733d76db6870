"""Long-lived objects out of the garbage collector's full passes (``portal.core.heap``).

Each case runs in a process of its own: the collector's generations are the whole process's, and
freezing the test runner's would keep its garbage for good.
"""

import os

import pytest

from portal.management.commands.runstack import inference_env
from tests.processes import printed_json


def run(script: str, *, env: dict | None = None) -> dict:
    return printed_json(
        script,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "LOG_LEVEL": "WARNING", **(env or {})},
    )


COUNTS = "import gc, json; print(json.dumps({'frozen': gc.get_freeze_count(), 'tracked': len(gc.get_objects())}))"


@pytest.mark.parametrize("entry_point", ["portal.asgi", "portal.wsgi"])
def test_a_web_process_starts_with_what_it_loaded_frozen(entry_point):
    """A full pass walked every object start-up made (about 200,000: 110 ms on 2 cores) while
    the process's requests waited; once frozen, a pass walks only what requests made since."""
    counts = run(f"import {entry_point}\n{COUNTS}")
    print(f"{entry_point}: {counts}")
    assert counts["frozen"] > 100_000
    assert counts["tracked"] < counts["frozen"] / 20


def test_a_worker_process_freezes_when_its_pool_starts_it():
    counts = run(
        "import django; django.setup()\n"
        "from celery import signals\nimport portal.celery\n"
        "signals.worker_process_init.send(sender=None)\n" + COUNTS,
        env={"CELERY_METRICS_PORT": ""},
    )
    assert counts["frozen"] > 50_000
    assert counts["tracked"] < counts["frozen"] / 20


# A model loaded and frozen, then dropped by the registry's routing (a promotion): its cycles
# (the compiled function holds the model, the model its function) must be freed, not kept
# frozen for the life of the worker.
SWAPPED_MODEL = """
import gc, json, weakref
import django
django.setup()
from diagnostics import model_cache
from diagnostics.ml.model import LoadedModel, ModelMetadata, build_model
from portal.core.heap import refreeze
metadata = ModelMetadata(name="untrained", version="0", labels=("healthy", "anomaly"), clip_seconds=1.0)
model = LoadedModel(build_model(metadata.labels, metadata.features, metadata.clip_seconds), metadata)
alive = weakref.ref(model)
model_cache._loaded[1] = model
del model
refreeze("model loaded")  # as get_model does after loading
frozen = gc.get_freeze_count()
model_cache.retain_only(set())
gc.collect()
print(json.dumps({"frozen_with_model": frozen, "model_freed": alive() is None,
                  "frozen_after": gc.get_freeze_count()}))
"""


def test_a_model_the_registry_no_longer_routes_to_is_freed_though_it_was_frozen():
    outcome = run(SWAPPED_MODEL, env=inference_env({}))
    assert outcome["model_freed"], outcome
    assert 0 < outcome["frozen_after"] < outcome["frozen_with_model"]
