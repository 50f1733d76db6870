"""Training runs on the ``training`` queue's real Celery worker: a run started as the admin starts
it trains there, its epochs appear on the run as they finish, and a cancellation stops a run in
progress between batches. Real worker process, PostgreSQL, Redis and TensorFlow."""

import time

import pytest

from diagnostics import training
from diagnostics.models import TrainingRun, TrainingStatus
from tests.diagnostics.training_cases import reviewed_cases
from tests.processes import celery_worker

pytestmark = pytest.mark.django_db(transaction=True)


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def test_runs_train_on_the_training_worker_and_a_cancel_stops_one_in_progress(
    site, clinician, worker_env, tmp_path
):
    reviewed_cases(site=site, reviewer=clinician, n_patients=12)
    tiny = {"batch_size": 4, "clip_seconds": 2.0, "seed": 1}
    worker = celery_worker(worker_env, tmp_path, queues="training", name="training")
    try:
        long_run = training.start_training_run(actor=clinician, parameters={**tiny, "epochs": 200})
        wait_for(
            lambda: TrainingRun.objects.filter(pk=long_run.pk, epoch__gte=1).exists(),
            120, "the first epoch on the worker",
        )  # fmt: skip
        training.cancel_training_run(run=long_run, actor=clinician)
        cancelled = wait_for(
            lambda: TrainingRun.objects.filter(pk=long_run.pk, status=TrainingStatus.CANCELLED).first(),
            30, "the cancellation",
        )  # fmt: skip
        assert cancelled.epoch < 200 and cancelled.model_version is None

        run = training.start_training_run(actor=clinician, parameters={**tiny, "epochs": 1})
        done = wait_for(
            lambda: TrainingRun.objects.filter(pk=run.pk, finished_at__isnull=False).first(),
            120, "the second run",
        )  # fmt: skip
    finally:
        worker.stop()
    assert done.status == TrainingStatus.SUCCEEDED, done.log + worker.output()[-3000:]
    assert done.task_id and len(done.history) == 1 and done.model_version is not None
