"""A worker that dies in the middle of an analysis loses nothing: the task comes back (late ack,
requeue on worker loss, a short visibility timeout) and the diagnostic is finished exactly once.

One test walks through both deaths with one worker, then a second one: each worker start costs
TensorFlow's import, which on a busy two-core machine is most of the test's time.
"""

import os
import signal
import time

import pytest

from diagnostics.models import DiagnosticStatus
from tests.diagnostics.inference_steps import (
    all_finished,
    broker_drained,
    held,
    holder_pid,
    inference_worker,
    mark_fault,
    results_announced,
    submit,
    unacked_messages,
    wait_for,
)
from tests.factories import PatientFactory

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def assert_finished_once(diagnostic, *workers) -> None:
    diagnostic.refresh_from_db()
    assert diagnostic.status == DiagnosticStatus.SUCCEEDED, diagnostic.error
    assert diagnostic.attempts == 2  # the killed attempt and the one that finished
    assert diagnostic.label and diagnostic.model_version_id and len(diagnostic.embedding) == 64 * 4
    assert results_announced(*workers, diagnostic=diagnostic) == 1


def test_a_pool_process_or_a_whole_worker_killed_mid_task_still_finishes_it_once(
    clinician, site, production_model, worker_env, fault_dir, tmp_path
):
    patient = PatientFactory(site=site)
    env = {**worker_env, "CELERY_VISIBILITY_TIMEOUT": "10"}
    first = inference_worker(env, tmp_path, name="first")
    second = None
    try:
        # The pool process dies: the worker requeues the task at once; a new process finishes it.
        mark_fault(fault_dir, "hold", seed=81)
        by_child = submit(patient, clinician, seed=81)
        wait_for(held(fault_dir, by_child), within=90, what="the task is held", logs=[first])
        os.kill(holder_pid(fault_dir, by_child), signal.SIGKILL)
        wait_for(
            all_finished(by_child), within=60, what="finished within 60 s of the kill",
            logs=[first],
        )  # fmt: skip
        wait_for(broker_drained(), within=30, what="the task acknowledged", logs=[first])
        assert first.proc.poll() is None  # the worker itself carried on
        assert first.output().count("exited with 'signal 9 (SIGKILL)'") == 1

        # The whole worker dies: the task stays unacknowledged in Redis until its visibility
        # timeout passes, then the next worker takes it.
        mark_fault(fault_dir, "hold", seed=82)
        by_worker = submit(patient, clinician, seed=82)
        wait_for(held(fault_dir, by_worker), within=60, what="the task is held", logs=[first])
        first.signal_group(signal.SIGKILL)
        first.proc.wait()
        killed_at = time.monotonic()
        assert unacked_messages() == 1  # delivered, never acknowledged: Redis still has it
        second = inference_worker(env, tmp_path, name="second", app="portal")
        wait_for(
            all_finished(by_worker),
            within=90 - (time.monotonic() - killed_at),
            what="finished within 90 s of the kill (visibility timeout 10 s)",
            logs=[first, second],
        )
        wait_for(broker_drained(), within=30, what="the task acknowledged", logs=[second])
    finally:
        first.stop()
        if second is not None:
            second.stop()

    assert_finished_once(by_child, first)
    assert_finished_once(by_worker, first, second)
