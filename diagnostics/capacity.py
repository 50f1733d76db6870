"""What the inference workers can do, measured by themselves, and what uploads are told about it.

Each inference task records how many clips it finished and how long it was busy (its own wall
time, claims and writes included) in the broker's Redis: a hash per second, a field pair per worker
process, kept a little longer than ``INFERENCE_THROUGHPUT_WINDOW_S``. The measured throughput is
each worker's clips per busy second over that window, summed over the workers: idle time lowers
neither (a quiet afternoon must not make a surge look hopeless), and a worker that did nothing in
the window counts for nothing. Until something has been measured (no worker has finished a task
in the window: a fresh deployment, or every worker down) the throughput is
``INFERENCE_FALLBACK_CLIPS_PER_S``.

A waiting diagnostic's expected wait is its queue position (``Diagnostic.objects
.with_queue_position()``) over that throughput, rounded up to whole seconds. Past
``INFERENCE_MAX_WAIT_S`` an upload is still accepted and told to poll later (202); with
``INFERENCE_QUEUE_HARD_LIMIT`` diagnostics waiting it is refused before anything is stored
(``QueueFull``, 503 with ``Retry-After``). docs/capacity.md explains the numbers.
"""

import contextlib
import math
import os
import socket
import time
from dataclasses import dataclass

import redis
from django.conf import settings

from diagnostics import inference_queue
from diagnostics.models import Diagnostic, DiagnosticStatus
from portal.core.errors import Unavailable

KEY = "inference:work:{second}"  # beside the queue in the broker's Redis
CACHE_S = 1.0  # pages and the API read the throughput at most once a second per process

_cached: tuple[float, float] | None = None  # (monotonic time read, throughput)


class QueueFull(Unavailable):
    code = "queue_full"
    default_message = (
        "Too many recordings are waiting for analysis, so this one was not stored. "
        "Send it again after the time in Retry-After."
    )


@dataclass(frozen=True)
class Wait:
    """Where a diagnostic stands: its queue position and expected wait (None once not waiting)."""

    position: int | None
    seconds: int | None

    @property
    def delayed(self) -> bool:
        """Longer than ``INFERENCE_MAX_WAIT_S``: accepted, but the client should poll later."""
        return self.seconds is not None and self.seconds > settings.INFERENCE_MAX_WAIT_S


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def record_work(
    *, clips: int, busy_s: float, worker: str | None = None, now: float | None = None
) -> None:
    """An inference task finished ``clips`` clips in ``busy_s`` seconds; a lost Redis loses only
    the measurement (the fallback rate applies until the next one)."""
    if clips <= 0 or busy_s <= 0:
        return
    worker = worker or worker_name()
    key = KEY.format(second=int(now if now is not None else time.time()))
    with contextlib.suppress(redis.RedisError):
        pipe = inference_queue.broker().pipeline(transaction=False)
        pipe.hincrby(key, f"{worker}:clips", clips)
        pipe.hincrby(key, f"{worker}:busy_ms", max(1, round(busy_s * 1000)))
        pipe.expire(key, settings.INFERENCE_THROUGHPUT_WINDOW_S + 60)
        pipe.execute()


def measured_throughput(now: float | None = None) -> float | None:
    """Clips per second over the window, summed over the workers; None when nothing was measured
    (or the broker's Redis cannot be reached)."""
    now = int(now if now is not None else time.time())
    window = max(1, settings.INFERENCE_THROUGHPUT_WINDOW_S)
    try:
        pipe = inference_queue.broker().pipeline(transaction=False)
        for second in range(now - window + 1, now + 1):
            pipe.hgetall(KEY.format(second=second))
        buckets = pipe.execute()
    except redis.RedisError:
        return None
    clips: dict[str, int] = {}
    busy_ms: dict[str, int] = {}
    for bucket in buckets:
        for field, value in bucket.items():
            worker, _, what = field.decode().rpartition(":")
            totals = clips if what == "clips" else busy_ms
            totals[worker] = totals.get(worker, 0) + int(value)
    rates = [clips[w] * 1000 / busy_ms[w] for w in clips if busy_ms.get(w)]
    return sum(rates) if rates else None


def throughput() -> float:
    """The measured throughput, or the fallback; read at most once a second per process."""
    global _cached
    if _cached is not None and time.monotonic() - _cached[0] < CACHE_S:
        return _cached[1]
    measured = measured_throughput()
    rate = measured if measured else settings.INFERENCE_FALLBACK_CLIPS_PER_S
    _cached = (time.monotonic(), rate)
    return rate


def forget_cached_throughput() -> None:
    global _cached
    _cached = None


def expected_wait_s(position: int | None) -> int | None:
    """About how many seconds until the diagnostic at ``position`` (1 = next) is analysed."""
    if position is None:
        return None
    return max(1, math.ceil(position / max(throughput(), 1e-6)))


def waiting_count() -> int:
    return Diagnostic.objects.filter(status=DiagnosticStatus.QUEUED).count()


def admit_upload() -> None:
    """Refuse an upload while ``INFERENCE_QUEUE_HARD_LIMIT`` diagnostics wait (before anything is
    stored). ``Retry-After`` is the time the workers need to bring the queue back to 90 % of the
    limit, between 1 s and ``INFERENCE_MAX_WAIT_S``, so refused clients come back once there is
    room, not all at once (the browser's upload queue adds jitter)."""
    limit = settings.INFERENCE_QUEUE_HARD_LIMIT
    waiting = waiting_count()
    if waiting < limit:
        return
    drain_s = math.ceil((waiting - 0.9 * limit) / max(throughput(), 1e-6))
    raise QueueFull(retry_after=min(max(1, drain_s), max(1, settings.INFERENCE_MAX_WAIT_S)))
