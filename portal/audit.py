"""The one way to write the audit log.

Callers say what happened and to which object; the request id, the actor's address and the patient's
site are filled in here. ``detail`` must never hold personal values (names, birth dates, external
ids): record which fields changed, not what they changed to.
"""

from typing import Any

from django.db import models

from portal.models import AuditEvent, Patient
from portal.observability import current_request_id


def record_event(
    *,
    action: str,
    actor=None,
    obj: models.Model | None = None,
    patient: Patient | None = None,
    request=None,
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    if patient is None and isinstance(obj, Patient):
        patient = obj
    if actor is None and request is not None and request.user.is_authenticated:
        actor = request.user
    return AuditEvent.objects.create(
        action=action,
        actor=actor if actor is not None and actor.is_authenticated else None,
        object_type=obj._meta.label_lower if obj is not None else "",
        object_id=str(obj.pk) if obj is not None else "",
        patient=patient,
        site_id=patient.site_id if patient is not None else None,
        ip=_client_ip(request),
        request_id=current_request_id(),
        detail=detail or {},
    )


def _client_ip(request) -> str | None:
    if request is None:
        return None
    return request.META.get("REMOTE_ADDR") or None
