"""The two moments the recommender must hear about, sent by task name.

Diagnostics never imports the recommender: it sends ``recommender.tasks.*`` by name to the
``recommender`` queue. A message that cannot be sent is only logged: the recommender's periodic
``sync_index`` finds new embeddings and promotions by itself within a minute.
"""

from portal.core.dispatch import send_quietly


def index_results(diagnostic_ids: list[int], *, wait: bool = True) -> None:
    """Results committed (a batch, one message): their embeddings into the live index and their
    review priorities scored."""
    if diagnostic_ids:
        send_quietly("recommender.tasks.index_diagnostics", list(diagnostic_ids), wait=wait)


def model_promoted() -> None:
    """The production model changed: its embeddings are not comparable, so the index is rebuilt."""
    send_quietly("recommender.tasks.sync_index")
