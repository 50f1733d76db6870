"""A worker that dies in the middle of an analysis loses nothing: the task comes back (late ack,
requeue on worker loss, a short visibility timeout) and the diagnostic is finished exactly once,
and the patient's open page shows it.

The pool process (the worker's child) killed: the worker requeues the task at once and a new pool
process finishes it. The whole worker (the parent) killed: the task stays unacknowledged in Redis
until its visibility timeout passes, then the next worker takes it.
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
    unacked_messages,
    wait_for,
)
from tests.factories import PatientFactory
from tests.faults.live_page import Clinic
from tests.faults.outages import Tally

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def crash_env(worker_env):
    return {**worker_env, "CELERY_VISIBILITY_TIMEOUT": "10"}


def upload_held(clinic: Clinic, fault_dir, worker, seed: int):
    """Upload a cough that the worker holds in the middle of its analysis, and one more queued
    behind it; both diagnostics, once the first is held."""
    mark_fault(fault_dir, "hold", seed=seed)
    held_one = clinic.submit(seed)
    wait_for(held(fault_dir, held_one), within=90, what="the task is held", logs=[worker])
    return held_one, clinic.submit(seed + 1)


def assert_finished_after_the_kill(*diagnostics) -> None:
    for diagnostic in diagnostics:
        diagnostic.refresh_from_db()
        assert diagnostic.status == DiagnosticStatus.SUCCEEDED, diagnostic.error
        assert diagnostic.label and diagnostic.model_version_id
        assert len(diagnostic.embedding) == 64 * 4
    assert diagnostics[0].attempts == 2  # the killed attempt and the one that finished


def test_a_pool_process_killed_mid_task_finishes_it_once(
    client, clinician, site, production_model, crash_env, fault_dir, tmp_path, request
):
    tally = Tally("worker child SIGKILL")
    worker = inference_worker(crash_env, tmp_path)
    try:
        with Clinic(crash_env, tmp_path, client=client, clinician=clinician,
                    patient=PatientFactory(site=site), tally=tally) as clinic:  # fmt: skip
            killed, behind = upload_held(clinic, fault_dir, worker, seed=81)
            os.kill(holder_pid(fault_dir, killed), signal.SIGKILL)
            back_s = wait_for(
                all_finished(killed, behind), within=60, what="finished within 60 s of the kill",
                logs=[worker],
            )  # fmt: skip
            wait_for(broker_drained(), within=30, what="the task acknowledged", logs=[worker])
            clinic.page.wait_until_final(tally.accepted, within=30)
        assert worker.proc.poll() is None  # the worker itself carried on
    finally:
        worker.stop()

    tally.finish(
        request, workers=[worker], page=clinic.page, finished_after_kill_s=round(back_s, 1)
    )
    assert worker.output().count("exited with 'signal 9 (SIGKILL)'") == 1
    assert_finished_after_the_kill(killed, behind)


def test_a_whole_worker_killed_mid_task_leaves_it_to_the_next_worker_once(
    client, clinician, site, production_model, crash_env, fault_dir, tmp_path, request
):
    tally = Tally("worker parent SIGKILL")
    first = inference_worker(crash_env, tmp_path, name="first")
    second = None
    try:
        with Clinic(crash_env, tmp_path, client=client, clinician=clinician,
                    patient=PatientFactory(site=site), tally=tally) as clinic:  # fmt: skip
            killed, behind = upload_held(clinic, fault_dir, first, seed=82)
            first.signal_group(signal.SIGKILL)
            first.proc.wait()
            killed_at = time.monotonic()
            assert unacked_messages() == 1  # delivered, never acknowledged: Redis still has it
            second = inference_worker(crash_env, tmp_path, name="second", app="portal")
            back_s = wait_for(
                all_finished(killed, behind),
                within=90 - (time.monotonic() - killed_at),
                what="finished within 90 s of the kill (visibility timeout 10 s)",
                logs=[first, second],
            )
            wait_for(broker_drained(), within=30, what="the task acknowledged", logs=[second])
            clinic.page.wait_until_final(tally.accepted, within=30)
    finally:
        first.stop()
        if second is not None:
            second.stop()

    tally.finish(request, workers=[first, second], page=clinic.page,
                 finished_after_kill_s=round(back_s, 1))  # fmt: skip
    assert_finished_after_the_kill(killed, behind)
