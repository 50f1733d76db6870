"""Re-enqueue diagnostics whose broker message was lost, so a lost message delays but never loses.

Two kinds of stuck work:
- *running* past ``INFERENCE_STUCK_RUNNING_S`` (longer than the task time limit): its worker died
  and its message did not come back. It returns to the queue, or fails once it has used up its
  attempts.
- *queued* past ``INFERENCE_STUCK_QUEUED_S`` while the broker holds fewer inference messages than
  the database holds waiting diagnostics (a Redis restart, a lost publish). The oldest of those are
  enqueued again. When the queue is merely long, the broker still holds their messages and nothing
  is added: capacity is capped, never overrun. A duplicate message is harmless (claims are
  idempotent).
"""

import logging
from dataclasses import dataclass
from datetime import timedelta

import redis
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from diagnostics.failures import FAILURE_MESSAGES
from diagnostics.metrics import QUEUE_LENGTH
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
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_timeout=5)
    try:
        return int(client.llen(INFERENCE_QUEUE))
    finally:
        client.close()


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

    waiting = Diagnostic.objects.filter(status=DiagnosticStatus.QUEUED)
    report.waiting = waiting.count()
    QUEUE_LENGTH.set(report.waiting)
    report.broker_messages = broker_queue_length()
    missing = report.waiting - report.broker_messages - report.requeued_running
    if missing > 0:
        old = waiting.filter(
            queued_at__lt=now - timedelta(seconds=settings.INFERENCE_STUCK_QUEUED_S)
        ).exclude(pk__in=revived)
        for pk in old.order_by("queued_at", "id").values_list("pk", flat=True)[:missing]:
            run_diagnostic.delay(pk)
            report.requeued_waiting += 1
    if report.requeued_running or report.requeued_waiting or report.failed_running:
        logger.warning("stuck diagnostics swept", extra=report.as_dict())
    return report
