"""The inference queue's messages: for first attempts, one waiting at a time, not one per upload.

A task claims its own diagnostic and up to ``INFERENCE_BATCH_SIZE - 1`` other waiting first
attempts (``inference.claim``). With a message per upload, most messages under load reached a task
whose diagnostic an earlier batch had taken, and handling those cost a worker about half its time
(docs/benchmarks.md). So a first attempt gets a message only when none is waiting in the broker
that would take it, which a mark in the broker's Redis says:

- an upload (or a clinician's retry) sets the mark and sends its message, unless the mark is set;
- a task clears the mark as it starts, before it claims; once it has claimed, if first attempts
  are still waiting, it sets the mark and sends a message for the oldest of them *before* it
  analyses its batch, so an idle worker takes the next batch meanwhile. With several workers each
  task starts the next, and at most one message waits.

No upload is stranded. One that finds the mark set committed its diagnostic before it looked, and
the task of the message behind the mark clears it before it claims; that task's claim, or the
message it passes on, sees the diagnostic. The mark expires after ``MARK_TTL_S`` in case its
message was never sent (the process died in between); until then, and for messages lost with
Redis, the sweeper finds the waiting work. Two messages for the same work are harmless (claims are
idempotent), so every doubt is settled by sending.

Work tried before (a dead batch's mates, a storage retry, the sweeper's revived runs) keeps one
message per diagnostic: it runs alone.
"""

import contextlib
import functools
import logging

import redis
from django.conf import settings
from django.db import transaction

from portal.core.dispatch import SENDER, send_quietly
from portal.core.threads import process_executor

logger = logging.getLogger(__name__)

TASK = "diagnostics.tasks.run_diagnostic"
MARK = "inference:message-waiting"  # beside the queue in the broker's Redis: lost together
MARK_TTL_S = 10


def send_on_commit(diagnostic_id: int) -> None:
    """After the current transaction commits, make sure a message will reach this first attempt."""
    transaction.on_commit(lambda: send_unless_waiting(diagnostic_id))


def send_unless_waiting(diagnostic_id: int) -> bool:
    """Send a message for this diagnostic unless one is already waiting; True if sent."""
    try:
        if not broker().set(MARK, diagnostic_id, nx=True, ex=MARK_TTL_S):
            return False
    except redis.RedisError:
        logger.warning("broker unreachable; the sweeper will enqueue", extra={"task": TASK})
        return False
    return _send(diagnostic_id)


def send_marked(diagnostic_id: int) -> bool:
    """Send a message for this diagnostic and set the mark, whatever the mark said (the sweeper:
    the broker holds nothing for the waiting work)."""
    try:
        broker().set(MARK, diagnostic_id, ex=MARK_TTL_S)
    except redis.RedisError:
        return False
    return _send(diagnostic_id)


def taken() -> None:
    """A task has started: its message no longer waits (called before the task claims)."""
    _clear_mark()


def pass_on(oldest: int | None) -> None:
    """After a claim: if first attempts still wait (``oldest``, the id of the one waiting longest,
    or None for none), a message for the oldest, sent from this process's sender thread so the
    task goes on to its analysis at once."""
    if oldest is not None:
        process_executor(SENDER).submit(send_unless_waiting, oldest)


def _send(diagnostic_id: int) -> bool:
    if send_quietly(TASK, diagnostic_id):
        return True
    _clear_mark()  # nothing waits behind it: the next upload sends its own
    return False


def _clear_mark() -> None:
    # Unreachable, the mark expires by itself; meanwhile the sweeper covers what was not sent.
    with contextlib.suppress(redis.RedisError):
        broker().delete(MARK)


def broker() -> redis.Redis:
    """A client of the broker's Redis (one connection pool per process)."""
    return _client(settings.CELERY_BROKER_URL)


@functools.cache
def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
