"""Running diagnostics through the model: claim, batch, predict, record, publish.

A diagnostic's first attempt also takes up to ``INFERENCE_BATCH_SIZE - 1`` other waiting first
attempts so the model runs on a batch under load; anything tried before (a redelivery, or a
survivor of a batch that died) runs alone, so one poisonous recording takes any given diagnostic
down with it at most once. While first attempts keep waiting, a task goes on from batch to batch
(``INFERENCE_DRAIN_S``), and each claim passes the broker's next message on
(``diagnostics.inference_queue``) so that another worker can take the batch after.

The parts, in the order a task meets them: ``claims`` (which diagnostics a task takes),
``stream`` (the model calls, one queued behind the one running), ``loading`` (their audio) and
``results`` (what is written and announced). The broker's messages are
``diagnostics.inference_queue``, outside this package because the web process sends them and must
not import TensorFlow.
"""

import time

from django.conf import settings

from diagnostics import capacity, inference_queue
from diagnostics.inference.claims import after_claim, claim_batch, claim_next, release_claims
from diagnostics.inference.stream import analyse
from diagnostics.models import Diagnostic
from portal.core import shutdown

__all__ = ["analyse", "claim", "run_diagnostic"]


def run_diagnostic(*, diagnostic_id: int, task_id: str) -> None:
    started = time.monotonic()
    inference_queue.taken()
    claimed, more_waiting = after_claim(*claim_batch(diagnostic_id, task_id))
    if not claimed:
        return
    clips = len(claimed)
    # When first attempts are still waiting after its batch, a task goes on to the next batch,
    # claimed under its own id while the model runs this batch's last call, for up to
    # INFERENCE_DRAIN_S: under load the model does not wait between batches for the claim, nor
    # for the broker and the worker's handing over of the next message. With nothing waiting,
    # a lone diagnostic's result is not held up by a claim that would find nothing. Work tried
    # before runs alone (nothing is claimed beside it, nor after it). A worker shutting down
    # (SIGTERM: a rolling restart) finishes the batch in hand and claims no more: what waits
    # already has its message (passed on by the claim), which another worker takes at once.
    until = time.monotonic() + settings.INFERENCE_DRAIN_S

    def next_batch() -> list[Diagnostic]:
        nonlocal more_waiting, clips
        if not more_waiting or time.monotonic() >= until or shutdown.requested():
            return []
        batch, more_waiting = after_claim(*claim_next(task_id))
        clips += len(batch)
        return batch

    tried_before = any(d.attempts > 1 for d in claimed)
    try:
        analyse(claimed, then=None if tried_before else next_batch)
    except BaseException:
        # The task gives up (its time limit, an error): what it still holds goes back to the
        # queue now, a message each, not at the sweeper's next pass.
        release_claims(task_id)
        raise
    # The worker's own measure of what it can do (expected waits, docs/capacity.md).
    capacity.record_work(clips=clips, busy_s=time.monotonic() - started)


def claim(*, diagnostic_id: int, task_id: str) -> list[Diagnostic]:
    """Mark this diagnostic (and, on a first delivery, a batch of others) as running.

    Then, whatever it found, the first attempts still waiting get their next message
    (``inference_queue.pass_on``) before the batch is analysed, so an idle worker takes them
    meanwhile: one message a batch, not one an upload.
    """
    return after_claim(*claim_batch(diagnostic_id, task_id))[0]
