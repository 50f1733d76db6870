"""A Celery entry point for tests only: the real app, with faults injected by recording name.

Start a worker with ``celery -A tests.faults.faulty_worker worker …``. Every pool process wraps
``diagnostics.inference.stream.calls_of``, where a claimed batch sets out for the model (at its first
task: importing TensorFlow while the pool process starts would outlast Celery's start-up timeout
for it), so that a batch holding a recording the test marked (``inference_steps.mark_fault``: a file
``<fault>-<the recording's sha256>`` in ``$FAULT_DIR``, since a recording keeps nothing of its
file name but the extension) with

- ``poison`` kills its own pool process with SIGKILL, on every attempt (a recording that crashes
  the model or the driver);
- ``hold`` waits, on its first attempt only, until the test kills the process or creates
  ``release-<diagnostic id>`` in ``$FAULT_DIR``; it first writes ``held-<diagnostic id>`` there,
  holding the pool process id, so the test knows the task is in the middle of its work.

Everything else is analysed by the real code. Production code has no such hooks: the faults live
here, under ``tests/``, and reach the worker only through this module.
"""

import os
import signal
import time
from pathlib import Path

from celery import signals

# TensorFlow is imported here, before the pool forks (nothing of it is initialised yet), so that a
# pool process replacing a killed one starts its next task at once instead of importing it again.
import diagnostics.ml.model  # noqa: F401
from portal.celery import app

__all__ = ["app"]

HOLD_AT_MOST_S = 35  # below the task's soft time limit, so a forgotten hold ends on its own


@signals.task_prerun.connect
def _inject_faults(**_):
    from diagnostics.inference import stream

    calls_of = stream.calls_of
    if getattr(calls_of, "faulty", False):
        return

    def faulty_calls_of(batch):
        for diagnostic in batch:
            fault = _fault_of(diagnostic)
            if fault == "poison":
                os.kill(os.getpid(), signal.SIGKILL)
            if fault == "hold" and diagnostic.attempts == 1:
                _hold(diagnostic.pk)
        return calls_of(batch)

    faulty_calls_of.faulty = True
    stream.calls_of = faulty_calls_of


def _fault_of(diagnostic) -> str:
    fault_dir = Path(os.environ.get("FAULT_DIR", "/nonexistent"))
    for fault in ("poison", "hold"):
        if (fault_dir / f"{fault}-{diagnostic.recording.sha256}").exists():
            return fault
    return ""


def _hold(diagnostic_id: int) -> None:
    fault_dir = Path(os.environ["FAULT_DIR"])
    held = fault_dir / f"held-{diagnostic_id}"
    staged = held.with_suffix(".partial")
    staged.write_text(str(os.getpid()))
    staged.replace(held)  # the test never reads a half-written pid
    release = fault_dir / f"release-{diagnostic_id}"
    deadline = time.monotonic() + HOLD_AT_MOST_S
    while not release.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
