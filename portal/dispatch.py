"""Sending a Celery task that is a consequence, not the work itself, without ever failing the
caller: a message that cannot be sent (the broker is down) is logged, and a periodic job of the
receiving side finds the work by itself (each caller says which)."""

import logging

from celery import current_app
from kombu.exceptions import OperationalError

logger = logging.getLogger(__name__)


def send_quietly(name: str, *args) -> bool:
    try:
        current_app.send_task(name, args=list(args))
    except (OperationalError, OSError):
        logger.warning("task not sent; a periodic job will catch up", extra={"task": name})
        return False
    return True
