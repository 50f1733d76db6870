"""Shared steps of the inference tests: submitting recordings, running workers, reading the broker.

Workers are real Celery processes started from ``tests.faults.faulty_worker`` (the real app,
plus faults chosen by recording name). Waits poll the database with a bound each test states; a
miss fails with the worker's log, so a slow machine shows up as a clear message, not a hang.
"""

import hashlib
import json
import os
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import redis
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile

from diagnostics.models import Diagnostic, DiagnosticStatus
from diagnostics.services import submit_recording
from tests.media_assets.uploading import cough_wav
from tests.processes import LiveProcess

FINISHED = (DiagnosticStatus.SUCCEEDED, DiagnosticStatus.FAILED)


def submit(patient, user, *, seed: int, name: str = "cough.wav") -> Diagnostic:
    """Upload a distinct cough (by ``seed``) as a clinician would; enqueued once it commits."""
    upload = SimpleUploadedFile(name, cough_wav(seed=seed), content_type="audio/wav")
    submission = submit_recording(
        patient=patient, file=upload, kind="cough", symptoms={}, actor=user, original_name=name
    )
    assert not submission.duplicate
    return submission.diagnostic


def mark_fault(fault_dir: Path, fault: str, *, seed: int) -> None:
    """Make the faulty worker ``poison`` or ``hold`` the recording of ``cough_wav(seed=seed)``."""
    (fault_dir / f"{fault}-{hashlib.sha256(cough_wav(seed=seed)).hexdigest()}").touch()


def inference_worker(
    env: dict,
    log_dir: Path,
    *,
    name: str = "inference",
    app: str = "tests.faults.faulty_worker",
) -> LiveProcess:
    """An inference worker as deployed (one pool process, prefetch 1, late ack), once ready."""
    worker = LiveProcess(
        name,
        [sys.executable, "-m", "celery", "-A", app, "worker", "-Q", "inference",
         "-n", f"{name}-{os.getpid()}@%h", "--concurrency", "1", "--loglevel", "INFO",
         "--without-gossip", "--without-mingle", "--without-heartbeat"],
        log_dir=log_dir, env=env,
    )  # fmt: skip
    return worker.start(ready=lambda: " ready." in worker.output(), timeout=90)


def wait_for(
    condition: Callable[[], bool], *, within: float, what: str, logs: Iterable[LiveProcess] = ()
) -> float:
    """Poll ``condition`` until it holds; returns the seconds it took, fails after ``within``."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > within:
            tails = "\n".join(f"--- {p.name}\n{p.output()[-3000:]}" for p in logs)
            raise AssertionError(f"not within {within} s: {what}\n{tails}")
        time.sleep(0.2)
    return time.monotonic() - started


def all_finished(*diagnostics: Diagnostic | int) -> Callable[[], bool]:
    ids = [getattr(d, "pk", d) for d in diagnostics]
    return lambda: Diagnostic.objects.filter(pk__in=ids, status__in=FINISHED).count() == len(ids)


def held(fault_dir: Path, diagnostic: Diagnostic) -> Callable[[], bool]:
    """True once the faulty worker is holding ``diagnostic`` in the middle of its analysis."""
    return lambda: (fault_dir / f"held-{diagnostic.pk}").exists()


def holder_pid(fault_dir: Path, diagnostic: Diagnostic) -> int:
    return int((fault_dir / f"held-{diagnostic.pk}").read_text())


def release(fault_dir: Path, diagnostic: Diagnostic) -> None:
    (fault_dir / f"release-{diagnostic.pk}").touch()


def log_events(*processes: LiveProcess, message: str) -> list[dict]:
    """The JSON log lines with this message, from the processes' outputs."""
    events = []
    for process in processes:
        for line in process.output().splitlines():
            if line.startswith("{") and f'"{message}"' in line:
                event = json.loads(line)
                if event.get("message") == message:
                    events.append(event)
    return events


def results_announced(*workers: LiveProcess, diagnostic: Diagnostic) -> int:
    """How many times a result for ``diagnostic`` was recorded and published, by any worker."""
    return sum(
        1
        for e in log_events(*workers, message="diagnostic analysed")
        if e["diagnostic"] == diagnostic.pk
    )


def tasks_received(worker: LiveProcess) -> int:
    """How many inference task messages the worker took from the broker."""
    return sum(
        1
        for line in worker.output().splitlines()
        if "Task diagnostics.tasks.run_diagnostic[" in line and "] received" in line
    )


def broker_client(url: str | None = None) -> redis.Redis:
    return redis.Redis.from_url(url or settings.REDIS_URL, socket_timeout=10)


def queued_messages(url: str | None = None, *, queue: str = "inference") -> list[dict]:
    """The headers of the task messages waiting in a queue of the broker (kombu: a Redis list)."""
    client = broker_client(url)
    try:
        return [json.loads(raw)["headers"] for raw in client.lrange(queue, 0, -1)]
    finally:
        client.close()


def broker_drained(url: str | None = None) -> Callable[[], bool]:
    """True once no task waits in the queue and every delivered one was acknowledged."""
    return lambda: queued_messages(url) == [] and unacked_messages(url) == 0


def unacked_messages(url: str | None = None) -> int:
    """Messages delivered to a worker and not yet acknowledged (kombu's ``unacked`` hash)."""
    client = broker_client(url)
    try:
        return int(client.hlen("unacked"))
    finally:
        client.close()
