"""The two moments the recommender must hear about, sent by task name.

Diagnostics never imports the recommender: it sends ``recommender.tasks.*`` by name to the
``recommender`` queue. A message that cannot be sent is only logged: the recommender's periodic
``sync_index`` finds new embeddings and promotions by itself within a minute.
"""

from portal.dispatch import send_quietly


def index_result(diagnostic_id: int) -> None:
    """A result committed: put its embedding into the live index and score its review priority."""
    send_quietly("recommender.tasks.index_diagnostic", diagnostic_id)


def model_promoted() -> None:
    """The production model changed: its embeddings are not comparable, so the index is rebuilt."""
    send_quietly("recommender.tasks.sync_index")
