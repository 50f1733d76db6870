"""Live results over WebSockets: ``ws/diagnostics/{id}/`` and ``ws/patients/{id}/``.

Session-authenticated (the ASGI stack's AuthMiddleware), permission-checked on connect through
``portal.core.permissions``: an anonymous user is closed with 4403; an unknown id, or one the user may
not see (another site's, or any at all for a user without a clinical role), with 4404, as the REST
API answers 404, so a socket gives no hint that it exists. Each refusal is audited
(``access.denied``), and so is each accepted socket (``diagnostic.watched``,
``patient.watched``). On connect the consumer sends the current state, then every change
published by ``diagnostics.live`` to the patient's group (a diagnostic's socket keeps those about
its diagnostic).
"""

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from diagnostics import live
from diagnostics.selectors import diagnostics_for
from portal.core import permissions
from portal.core.audit import record_event

FORBIDDEN = 4403
NOT_FOUND = 4404
RECENT_ON_CONNECT = 20


class _LiveConsumer(AsyncJsonWebsocketConsumer):
    group: str | None = None

    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self._refuse(None, FORBIDDEN)
            return
        pk = int(self.scope["url_route"]["kwargs"]["pk"])
        self.group = await self._authorise(user, pk)
        if self.group is None:
            await self._refuse(user, NOT_FOUND)
            return
        # Joined before the state is read: a change made meanwhile arrives after the state (at
        # worst repeating it), instead of falling between the read and the join unseen.
        await self.channel_layer.group_add(self.group, self.channel_name)
        snapshot = await self._snapshot(user, pk)
        await self.accept()
        for message in snapshot:
            await self.send_json(message)

    async def _refuse(self, user, code: int) -> None:
        """Close, and audit the refusal as the HTTP side audits its 403s (ids only)."""
        await database_sync_to_async(record_event)(
            action="access.denied", actor=user,
            detail={"route": self.scope["url_route"].get("route", self.scope["path"]),
                    "arguments": {k: str(v) for k, v in self.scope["url_route"]["kwargs"].items()},
                    "method": "WEBSOCKET", "close_code": code},
        )  # fmt: skip
        await self.close(code=code)

    async def disconnect(self, code):
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def diagnostic_update(self, event):
        await self.send_json(event["message"])


class DiagnosticConsumer(_LiveConsumer):
    diagnostic_id: int | None = None

    @database_sync_to_async
    def _authorise(self, user, pk: int) -> str | None:
        """The patient's group, which changes are published to; None if the user may not see it."""
        patient_id = (
            diagnostics_for(user).filter(pk=pk).values_list("patient_id", flat=True)
        ).first()
        if patient_id is None:
            return None
        self.diagnostic_id = pk  # of the patient's changes, this socket keeps its diagnostic's
        return live.patient_group(patient_id)

    @database_sync_to_async
    def _snapshot(self, user, pk: int) -> list[dict]:
        diagnostic = (
            diagnostics_for(user).select_related("model_version", "patient").filter(pk=pk).first()
        )
        if diagnostic is None:  # gone since it was authorised
            return []
        record_event(
            action="diagnostic.watched", actor=user, obj=diagnostic, patient=diagnostic.patient
        )
        return [live.status_message(diagnostic)]

    async def diagnostic_update(self, event):
        if event["message"]["id"] == self.diagnostic_id:
            await self.send_json(event["message"])


class PatientConsumer(_LiveConsumer):
    @database_sync_to_async
    def _authorise(self, user, pk: int) -> str | None:
        visible = permissions.patients_for(user).filter(pk=pk).exists()
        return live.patient_group(pk) if visible else None

    @database_sync_to_async
    def _snapshot(self, user, pk: int) -> list[dict]:
        patient = permissions.patients_for(user).filter(pk=pk).first()
        if patient is None:  # gone since it was authorised
            return []
        record_event(action="patient.watched", actor=user, obj=patient)
        recent = patient.diagnostics.select_related("model_version").order_by("-queued_at", "-id")
        return [live.status_message(d) for d in recent[:RECENT_ON_CONNECT]]
