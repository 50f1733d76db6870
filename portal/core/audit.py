"""The one way to write the audit log.

Callers say what happened and to which object; the request id, the actor's address and the patient's
site are filled in here. ``detail`` must never hold personal values (names, birth dates, external
ids): record which fields changed, not what they changed to.
"""

from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db import models

from portal.core.models import AuditEvent, Patient
from portal.core.observability import client_ip, current_request_id


@dataclass(frozen=True)
class AuditContext:
    """Where an audited action came from: the client's address and the request's id.

    Views make one with ``AuditContext.of(request)`` and hand it to services, so services never
    see a request. Work outside a request (a Celery task) passes none and keeps the request id it
    was enqueued with.
    """

    ip: str | None = None
    request_id: str = field(default_factory=current_request_id)

    @classmethod
    def of(cls, request) -> "AuditContext":
        if request is None:
            return cls()
        return cls(ip=client_ip(request))


def record_event(
    *,
    action: str,
    actor=None,
    obj: models.Model | None = None,
    patient: Patient | None = None,
    context: AuditContext | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    if patient is None and isinstance(obj, Patient):
        patient = obj
    context = context or AuditContext()
    return AuditEvent.objects.create(
        action=action,
        actor=actor if actor is not None and actor.is_authenticated else None,
        object_type=obj._meta.label_lower if obj is not None else "",
        object_id=str(obj.pk) if obj is not None else "",
        patient=patient,
        site_id=patient.site_id if patient is not None else None,
        ip=context.ip,
        request_id=context.request_id,
        detail=detail or {},
    )


def _signed_in(sender, request, user, **kwargs):
    record_event(action="auth.signed_in", actor=user, context=AuditContext.of(request))


def _signed_out(sender, request, user, **kwargs):
    record_event(action="auth.signed_out", actor=user, context=AuditContext.of(request))


def _sign_in_failed(sender, credentials, request=None, **kwargs):
    # Not even the username: people type passwords into the username field.
    record_event(action="auth.sign_in_failed", context=AuditContext.of(request))


def connect_sign_in_events() -> None:
    """Audit sign-in, sign-out and failed sign-in (Django's auth signals are the only hook)."""
    user_logged_in.connect(_signed_in, dispatch_uid="portal-audit-signed-in")
    user_logged_out.connect(_signed_out, dispatch_uid="portal-audit-signed-out")
    user_login_failed.connect(_sign_in_failed, dispatch_uid="portal-audit-sign-in-failed")


class DenialAuditMiddleware:
    """Every refused request (a 403: a missing role, a failed CSRF check) leaves one audit event
    with who, the route and the method. The route's name and arguments are ids, never personal
    values; an object outside the user's sites is a 404 and is not told apart from a typo."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if response.status_code == 403:
            match = getattr(request, "resolver_match", None)
            record_event(
                action="access.denied",
                actor=getattr(request, "user", None),
                context=AuditContext.of(request),
                detail={
                    "route": match.view_name if match else "",
                    "arguments": {k: str(v) for k, v in match.kwargs.items()} if match else {},
                    "method": request.method,
                },
            )
        return response
