"""Sending a Celery task that is a consequence, not the work itself, without ever failing the
caller: a message that cannot be sent (the broker is down) is logged, and a periodic job of the
receiving side finds the work by itself (each caller says which).

``wait=False`` hands the send to this process's sender thread and returns at once, for a caller
whose time is precious (the inference worker between two batches): messages go out in the order
given, a moment later. One lost with the process (it is killed before its sender thread runs) is
no worse than one the broker refused: the same periodic job finds the work.
"""

import logging

from celery import current_app
from kombu.exceptions import OperationalError

from portal.core.threads import process_executor

logger = logging.getLogger(__name__)

SENDER = "task-sender"  # one thread, so sends keep their order


def send_quietly(name: str, *args, wait: bool = True) -> bool:
    """Send task ``name``; False when it could not be sent (``wait=False``: True once queued)."""
    if not wait:
        process_executor(SENDER).submit(send_quietly, name, *args)
        return True
    try:
        current_app.send_task(name, args=args)
    except (OperationalError, OSError):
        logger.warning("task not sent; a periodic job will catch up", extra={"task": name})
        return False
    return True


def flush(timeout: float = 5.0) -> None:
    """Wait until every send handed over so far has been made (a pool process about to exit,
    and tests that read the broker)."""
    process_executor(SENDER).submit(lambda: None).result(timeout=timeout)
