"""The index jobs through the broker, on a real worker of the ``recommender`` queue: the periodic
check builds the first index, notices a promotion and rebuilds for the new model, the re-embedding
chain runs to its end, and a result that inference records is indexed and its review priority
scored (inference sends ``index_diagnostics`` by name once the result commits)."""

import io
import time

import pytest
import redis
from celery import current_app
from django.conf import settings

from diagnostics import inference, registry
from diagnostics.ml import synth
from diagnostics.models import ModelStatus
from diagnostics.services import submit_recording
from recommender.models import CaseEmbedding, IndexBuild, ReviewPriority
from tests.factories import PatientFactory
from tests.processes import celery_worker
from tests.recommender.synthetic_cases import analysed_cases

pytestmark = pytest.mark.slow


def wait_for(condition, *, within: float, what: str, worker) -> None:
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {within} s: {what}\n{worker.output()[-4000:]}")
        time.sleep(0.3)


@pytest.fixture
def broker():
    client = redis.Redis.from_url(settings.REDIS_URL)
    client.flushdb()  # no messages left from other tests, none left for them
    yield
    client.flushdb()
    client.close()


def test_the_worker_builds_follows_a_promotion_and_indexes_new_results(
    transactional_db, process_env, tmp_path, tiny_artifact, second_artifact, site, clinician,
    broker,
):  # fmt: skip
    first = registry.register_model_version(artifact_path=tiny_artifact,
                                            status=ModelStatus.PRODUCTION)  # fmt: skip
    analysed_cases(site=site, user=clinician, n=6)
    env = {**process_env, "MODEL_CACHE_DIR": str(tmp_path / "model-cache"),
           "TF_CPP_MIN_LOG_LEVEL": "2"}  # fmt: skip
    worker = celery_worker(env, tmp_path, queues="recommender", name="recommender")
    try:
        current_app.send_task("recommender.tasks.sync_index")
        wait_for(lambda: IndexBuild.objects.filter(model_version=first, count=6).exists(),
                 within=90, what="the first build", worker=worker)  # fmt: skip

        second = registry.register_model_version(artifact_path=second_artifact)
        registry.promote(version=second)
        current_app.send_task("recommender.tasks.sync_index")
        wait_for(lambda: IndexBuild.objects.filter(model_version=second).exists(),
                 within=90, what="a build for the promoted model", worker=worker)  # fmt: skip
        current_app.send_task("recommender.tasks.sync_index")
        wait_for(lambda: CaseEmbedding.objects.filter(model_version=second).count() == 6,
                 within=120, what="re-embedding by the promoted model", worker=worker)  # fmt: skip

        sound = synth.generate_example(99, label="anomaly", kind="cough", min_duration_s=2.0)
        newcomer = submit_recording(
            patient=PatientFactory(site=site), file=io.BytesIO(synth.to_wav_bytes(sound)),
            kind="cough", symptoms={}, actor=clinician, original_name="new.wav",
        ).diagnostic  # fmt: skip
        inference.run_diagnostic(diagnostic_id=newcomer.pk, task_id="in-test")
        wait_for(lambda: ReviewPriority.objects.filter(diagnostic=newcomer).exists(),
                 within=90, what="the new result indexed and scored", worker=worker)  # fmt: skip
    finally:
        worker.stop()

    assert CaseEmbedding.objects.filter(diagnostic=newcomer, model_version=second).exists()
    assert "Traceback" not in worker.output()
