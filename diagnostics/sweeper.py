"""Re-enqueue diagnostics whose broker message was lost, so a lost message delays but never loses.

Two kinds of stuck work:
- *running* past ``INFERENCE_STUCK_RUNNING_S`` (longer than the task time limit): its worker died
  and its message did not come back. It returns to the queue, or fails once it has used up its
  attempts.
- *queued* past ``INFERENCE_STUCK_QUEUED_S`` while the broker holds fewer inference messages than
  the waiting work needs (a Redis restart, a lost publish). Waiting first attempts need one message
  between them (``inference_queue``: each batch passes the next one on); work tried before needs
  one each. The oldest stuck first attempt, then stuck retries, are enqueued again, as many as are
  missing. When the queue is merely long, the broker still holds the messages it needs and nothing
  is added: capacity is capped, never overrun. A duplicate message is harmless (claims are
  idempotent).
"""

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from diagnostics import capacity, inference_queue
from diagnostics.failures import FAILURE_MESSAGES
from diagnostics.metrics import EXPECTED_WAIT, QUEUE_LENGTH, THROUGHPUT
from diagnostics.models import Diagnostic, DiagnosticStatus

logger = logging.getLogger(__name__)

INFERENCE_QUEUE = "inference"


@dataclass
class SweepReport:
    requeued_running: int = 0
    failed_running: int = 0
    requeued_waiting: int = 0
    waiting: int = 0
    broker_messages: int = 0

    def as_dict(self) -> dict:
        return self.__dict__.copy()


def broker_queue_length() -> int:
    """Messages waiting in the broker's inference queue (kombu keeps one Redis list per queue)."""
    return int(inference_queue.broker().llen(INFERENCE_QUEUE))


def sweep(now=None) -> SweepReport:
    from diagnostics.tasks import run_diagnostic

    now = now or timezone.now()
    report = SweepReport()
    stuck_running = Diagnostic.objects.filter(
        status=DiagnosticStatus.RUNNING,
        started_at__lt=now - timedelta(seconds=settings.INFERENCE_STUCK_RUNNING_S),
    )
    with transaction.atomic():
        exhausted = stuck_running.filter(attempts__gte=settings.INFERENCE_MAX_ATTEMPTS)
        report.failed_running = exhausted.update(
            status=DiagnosticStatus.FAILED,
            error=FAILURE_MESSAGES["too_many_attempts"],
            finished_at=now,
        )
        revived = list(stuck_running.values_list("pk", flat=True))
        Diagnostic.objects.filter(pk__in=revived).update(status=DiagnosticStatus.QUEUED, task_id="")
        for pk in revived:
            run_diagnostic.delay_on_commit(pk)
    report.requeued_running = len(revived)

    waiting = Diagnostic.objects.filter(status=DiagnosticStatus.QUEUED).exclude(pk__in=revived)
    counts = waiting.aggregate(all=Count("pk"), first=Count("pk", filter=Q(attempts=0)))
    report.waiting = counts["all"] + len(revived)
    _set_queue_gauges(report.waiting)
    report.broker_messages = broker_queue_length()  # the revived ones' messages among them
    needed = counts["all"] - counts["first"] + min(1, counts["first"])
    missing = needed - max(0, report.broker_messages - len(revived))
    if missing > 0:
        stuck = waiting.filter(
            queued_at__lt=now - timedelta(seconds=settings.INFERENCE_STUCK_QUEUED_S)
        ).order_by("queued_at", "id")
        first = stuck.filter(attempts=0).values_list("pk", flat=True).first()
        if first is not None:
            inference_queue.send_marked(first)  # its batches pass the rest on
            report.requeued_waiting += 1
        tried = stuck.filter(attempts__gt=0).values_list("pk", flat=True)
        for pk in tried[: missing - report.requeued_waiting]:
            run_diagnostic.delay(pk)
            report.requeued_waiting += 1
    if report.requeued_running or report.requeued_waiting or report.failed_running:
        logger.warning("stuck diagnostics swept", extra=report.as_dict())
    return report


def _set_queue_gauges(waiting: int) -> None:
    """The backlog, the measured throughput and the last one's expected wait, for Prometheus."""
    QUEUE_LENGTH.set(waiting)
    THROUGHPUT.set(capacity.measured_throughput() or 0)
    EXPECTED_WAIT.set(capacity.expected_wait_s(waiting) or 0)
