"""Celery tasks of the recommender (queue ``recommender``): thin, idempotent wrappers.

``index_diagnostics`` is sent by name after an inference batch commits
(``send_task("recommender.tasks.index_diagnostics", args=[[id, ...]])``), so diagnostics needs no
import of this app; ``sync_index`` catches whatever that misses and notices promotions.

Long tasks (rebuild, re-embedding, priorities) acknowledge on receipt: the broker's visibility
timeout is a minute, and a rebuild redelivered while it still runs would only build twice.
A lost one is harmless: the next ``sync_index`` sees that the work is still due and asks again.
"""

from celery import shared_task

from recommender import indexing, priority

LONG = {"acks_late": False, "time_limit": 1800, "soft_time_limit": 1700}


@shared_task(name="recommender.tasks.index_diagnostic")
def index_diagnostic(diagnostic_id: int) -> bool:
    """One diagnostic: for messages a worker of an earlier release sent (one per result)."""
    return indexing.index_diagnostic(diagnostic_id=diagnostic_id)


@shared_task(name="recommender.tasks.index_diagnostics")
def index_diagnostics(diagnostic_ids: list[int]) -> int:
    """A finished inference batch, in one message: how many were brought into the index."""
    return sum(indexing.index_diagnostic(diagnostic_id=pk) for pk in diagnostic_ids)


@shared_task(name="recommender.tasks.sync_index")
def sync_index() -> dict:
    status = indexing.sync_index()
    if status.rebuild_reason and not indexing.rebuild_running():
        rebuild_index.delay(reason=status.rebuild_reason)
    elif status.reembed_pending and indexing.claim_reembedding(status.production):
        reembed.delay(status.production.pk)
    return {"rebuild": status.rebuild_reason, "delta": status.delta,
            "reembed_pending": status.reembed_pending}  # fmt: skip


@shared_task(name="recommender.tasks.rebuild_index", **LONG)
def rebuild_index(reason: str = "scheduled") -> int | None:
    build = indexing.rebuild_index(reason=reason)
    return build.pk if build else None


@shared_task(name="recommender.tasks.reembed", **LONG)
def reembed(version_id: int, phase: str = "reviewed", after_id: int = 0) -> dict:
    progress = indexing.reembed_step(version_id=version_id, phase=phase, after_id=after_id)
    if progress.phase is not None:
        reembed.delay(version_id, progress.phase, progress.after_id)
    return {"phase": progress.phase, "embedded": progress.embedded, "skipped": progress.skipped}


@shared_task(name="recommender.tasks.refresh_review_priorities", **LONG)
def refresh_review_priorities() -> int:
    return priority.refresh_review_priorities()
