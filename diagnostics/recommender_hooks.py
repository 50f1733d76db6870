"""The two moments the recommender must hear about, sent by task name.

Diagnostics never imports the recommender: it sends ``recommender.tasks.*`` by name to the
``recommender`` queue. A message that cannot be sent (the broker is down) is only logged: the
recommender's periodic ``sync_index`` finds new embeddings and promotions by itself within a
minute, so the result or the promotion that caused the message is never held back by it.
"""

import logging

from celery import current_app
from kombu.exceptions import OperationalError

logger = logging.getLogger(__name__)


def _send(name: str, args=()) -> None:
    try:
        current_app.send_task(name, args=list(args))
    except (OperationalError, OSError):
        logger.warning(
            "recommender not told; its periodic sync will catch up", extra={"task": name}
        )


def index_result(diagnostic_id: int) -> None:
    """A result committed: put its embedding into the live index and score its review priority."""
    _send("recommender.tasks.index_diagnostic", (diagnostic_id,))


def model_promoted() -> None:
    """The production model changed: its embeddings are not comparable, so the index is rebuilt."""
    _send("recommender.tasks.sync_index")
