"""What clients see of a diagnostic while it is analysed: the status message, and its delivery.

The same message goes to WebSocket subscribers of the diagnostic and of its patient (through the
Redis channel layer, from whichever process made the change) and is the body of the polling API.
"""

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db.models import Q
from django.utils import timezone

from diagnostics.models import Diagnostic, DiagnosticStatus

logger = logging.getLogger(__name__)


def diagnostic_group(diagnostic_id: int) -> str:
    return f"diagnostic-{diagnostic_id}"


def patient_group(patient_id: int) -> str:
    return f"patient-{patient_id}"


def queue_position(diagnostic: Diagnostic) -> int | None:
    """1 for the next diagnostic to be analysed; None once it is no longer waiting."""
    if diagnostic.status != DiagnosticStatus.QUEUED:
        return None
    ahead = Diagnostic.objects.filter(status=DiagnosticStatus.QUEUED).filter(
        Q(queued_at__lt=diagnostic.queued_at)
        | Q(queued_at=diagnostic.queued_at, pk__lt=diagnostic.pk)
    )
    return ahead.count() + 1


def status_message(diagnostic: Diagnostic) -> dict:
    """The contract of DESIGN.md: ``{"type": "diagnostic", "id", "status", …}``."""
    version = diagnostic.model_version
    return {
        "type": "diagnostic",
        "id": diagnostic.pk,
        "patient": diagnostic.patient_id,
        "status": diagnostic.status,
        "label": diagnostic.label or None,
        "label_display": diagnostic.get_label_display() if diagnostic.label else None,
        "confidence": diagnostic.confidence,
        "model_version": str(version) if version else None,
        "synthetic_model": bool(version and version.is_synthetic),
        "queue_position": queue_position(diagnostic),
        "error": diagnostic.error or None,
        "updated_at": _updated_at(diagnostic).isoformat(),
    }


def _updated_at(diagnostic: Diagnostic):
    return diagnostic.finished_at or diagnostic.started_at or diagnostic.queued_at or timezone.now()


def publish(diagnostic: Diagnostic) -> None:
    """Send the current state to everyone watching; a Redis hiccup must not fail the caller."""
    event = {"type": "diagnostic.update", "message": status_message(diagnostic)}
    groups = [diagnostic_group(diagnostic.pk), patient_group(diagnostic.patient_id)]
    try:
        async_to_sync(_send)(get_channel_layer(), groups, event)
    except Exception as exc:
        logger.warning("live update not published", extra={"error": type(exc).__name__})


async def _send(layer, groups: list[str], event: dict) -> None:
    # One event loop for both groups: each async_to_sync call from a sync thread costs a loop.
    for group in groups:
        await layer.group_send(group, event)
