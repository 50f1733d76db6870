"""Live results over WebSockets: ``ws/diagnostics/{id}/`` and ``ws/patients/{id}/``.

Session-authenticated (the ASGI stack's AuthMiddleware), permission-checked on connect through
``portal.core.permissions``: an anonymous user is closed with 4403; an unknown id, or one the user may
not see (another site's, or any at all for a user without a clinical role), with 4404, as the REST
API answers 404, so a socket gives no hint that it exists. Each refusal is audited
(``access.denied``), and so is each accepted socket (``diagnostic.watched``,
``patient.watched``). On connect the consumer sends the current state, then every change
published by ``diagnostics.live`` to the patient's group (a diagnostic's socket keeps those about
its diagnostic; a patient's socket also gets ``spectrogram`` messages).

A socket lives no longer than the session that opened it (``portal.core.revocation``): it closes
with 4401 when told to (signing out, a password change, deactivation, a lost membership: each sends
``session.ended`` to the session's or the user's group), when its session has ended by the time a
message is due (the idle timeout), and when its check every ``SOCKET_SESSION_CHECK_SECONDS`` finds
the session ended or the patient out of reach. An account that needs a second factor must have
given it in that session (4403 otherwise; asked on connect only).

A message costs no database trip in the common case: each check of the session (on connect, by the
periodic check, or before a message) remembers the session's expiry, and a message goes out
without another while that expiry is ahead and the check is younger than
``SOCKET_SESSION_TRUST_SECONDS``. Channels runs every socket's database work of a process on one
shared thread, so a check before each message queued the results of all sockets behind each other
and behind the handshakes (docs/benchmarks.md, issue 19). Nothing announces the idle timeout, but
the expiry only moves on (while the user is active), so once the remembered one has passed the
next message checks again, and finds it renewed or closes without sending. What a check reads that
nothing announces (a session row deleted by other means, a ``session.ended`` lost to a Redis
hiccup) reaches a socket within ``SOCKET_SESSION_TRUST_SECONDS`` of its next message, and within
``SOCKET_SESSION_CHECK_SECONDS`` in any case.

Without the channel layer (Redis is away) or the database (PostgreSQL restarting) a socket is
accepted and closed at once with 4503 (the close code of an unavailable part,
``portal.core.errors.ANSWERS``), never answered with a 500: the page polls while its socket is
closed and tries again with a backoff. An open socket whose session check cannot reach the
database is closed with 4503 too, rather than left open unchecked. An outage before the consumer
runs (the session lookup) gets the same answer from ``portal.socket_outages``.

A socket leaves its groups when it closes; one whose process dies cannot, so group memberships
expire (``CHANNEL_GROUP_EXPIRY_S``) and a live socket renews its own every third of that time.
A message a page missed (a full channel, a membership lost) is made good by the page's
reconciliation with ``GET /api/v1/patients/{id}/pending/`` (``static/js/live-results.js``).
"""

import asyncio
import contextlib
import logging
import math
import time
from datetime import datetime

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils import timezone
from redis.exceptions import RedisError

from diagnostics import live
from diagnostics.selectors import diagnostics_for
from portal.core import permissions, revocation, second_factor
from portal.core.audit import record_event
from portal.core.errors import ANSWERS, Kind
from portal.core.outages import OUTAGE_ERRORS

logger = logging.getLogger(__name__)

FORBIDDEN = 4403
NOT_FOUND = 4404
UNAVAILABLE = ANSWERS[Kind.UNAVAILABLE].socket_close_code
RECENT_ON_CONNECT = 20


class _LiveConsumer(AsyncJsonWebsocketConsumer):
    group: str | None = None
    session_groups: tuple[str, ...] = ()
    watchdog: asyncio.Task | None = None
    renewal: asyncio.Task | None = None
    accepted = False
    ended = False
    session_expires_at: datetime | None = None  # the session's expiry, as its last check read it
    session_checked_at = -math.inf  # when that check was made (time.monotonic())

    async def connect(self):
        try:
            await self._open()
        except OUTAGE_ERRORS as exc:
            await self._close_unavailable(exc)

    async def _open(self) -> None:
        """Authenticate, authorise, join the groups, then accept and send the current state."""
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self._refuse(None, FORBIDDEN)
            return
        pk = int(self.scope["url_route"]["kwargs"]["pk"])
        refusal, group = await self._admit(user, pk)
        if refusal is not None:
            await self._refuse(user, refusal)
            return
        self.group = group
        self.session_groups = (
            revocation.user_group(user.pk), revocation.session_group(self.session_key),
        )  # fmt: skip
        # Joined before the state is read: a change made meanwhile arrives after the state (at
        # worst repeating it), instead of falling between the read and the join unseen.
        for joined in (group, *self.session_groups):
            await self.channel_layer.group_add(joined, self.channel_name)
        snapshot = await self._snapshot(user, pk)
        await self.accept()
        self.accepted = True
        self.renewal = asyncio.create_task(self._renew_memberships())
        for message in snapshot:
            await self.send_json(message)
        self.watchdog = asyncio.create_task(self._watch(user.pk, pk))

    async def _close_unavailable(self, exc: BaseException) -> None:
        """Close with 4503 when the database or Redis is away: the page polls meanwhile and
        reconnects with a backoff. Accepted first, if it was not yet, since a browser sees a close
        code only after the handshake. Logged once, by the error's type (no ids)."""
        if self.ended:
            return
        self.ended = True
        logger.warning("live socket closed: a part is unavailable",
                       extra={"error": type(exc).__name__})  # fmt: skip
        with contextlib.suppress(*OUTAGE_ERRORS):  # without Redis there is nothing to leave
            await self._leave_groups()
        self.group, self.session_groups = None, ()
        if not self.accepted:
            await self.accept()
        await self.close(code=UNAVAILABLE)

    @database_sync_to_async
    def _admit(self, user, pk: int) -> tuple[int | None, str | None]:
        """(None, the patient's group) for a socket that may watch ``pk``, else (the close code,
        None). One trip to the shared database thread for every check of the handshake."""
        if not self._fully_signed_in(user):
            return FORBIDDEN, None
        group = self._reach(user, pk)
        return (NOT_FOUND, None) if group is None else (None, group)

    def _fully_signed_in(self, user) -> bool:
        """Signed in by a live session (the only way a socket is), with the second factor where
        the account needs one."""
        session = self.scope.get("session")
        if session is None or not session.session_key:
            return False
        self.session_key = session.session_key
        if not self._check_session(user):
            return False
        return not second_factor.required_for(user) or second_factor.session_verified(session, user)

    def _check_session(self, user) -> bool:
        """Whether the session is still signed in as ``user``; remembers its expiry and when it
        was read, which ``_session_trusted`` lets messages rely on."""
        self.session_expires_at = revocation.session_expiry(self.session_key, user)
        self.session_checked_at = time.monotonic()
        return self.session_expires_at is not None

    def _session_trusted(self) -> bool:
        """Whether the last check still holds for a message: the session's expiry it read is
        ahead, and it is younger than ``SOCKET_SESSION_TRUST_SECONDS``."""
        return (
            self.session_expires_at is not None
            and timezone.now() < self.session_expires_at
            and time.monotonic() - self.session_checked_at < settings.SOCKET_SESSION_TRUST_SECONDS
        )

    @database_sync_to_async
    def _session_alive(self, user_id: int, pk: int | None = None) -> bool:
        """The session still signed in (and, given ``pk``, the object still within reach)."""
        user = get_user_model().objects.filter(pk=user_id).first()
        if user is None or not self._check_session(user):
            return False
        return pk is None or self._reach(user, pk) is not None

    async def _still_signed_in(self, user_id: int, pk: int | None = None) -> bool:
        """``_session_alive``, closing the socket when not: 4401 when the session has ended (or
        the object is out of reach), 4503 when the database cannot tell."""
        try:
            alive = await self._session_alive(user_id, pk)
        except OUTAGE_ERRORS as exc:
            await self._close_unavailable(exc)
            return False
        if not alive:
            await self._end()
        return alive

    async def _watch(self, user_id: int, pk: int) -> None:
        while not self.ended:
            await asyncio.sleep(settings.SOCKET_SESSION_CHECK_SECONDS)
            await self._still_signed_in(user_id, pk)

    async def _end(self) -> None:
        if self.ended:
            return
        self.ended = True
        await self._leave_groups()
        await self.close(code=revocation.SESSION_ENDED)

    async def _leave_groups(self) -> None:
        for group in (self.group, *self.session_groups):
            if group:
                await self.channel_layer.group_discard(group, self.channel_name)

    async def session_ended(self, event):
        await self._end()

    async def _deliver(self, message: dict) -> None:
        """Send ``message`` if the session is still signed in, else close; the database is asked
        only when the last check no longer holds (``_session_trusted``)."""
        if self.ended:
            return
        if self._session_trusted() or await self._still_signed_in(self.scope["user"].pk):
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

    async def _renew_memberships(self) -> None:
        """Stay in the groups while the socket lives: memberships expire, so that a channel
        whose socket died without a goodbye leaves them by itself."""
        interval = max(1.0, settings.CHANNEL_GROUP_EXPIRY_S / 3)
        while not self.ended:
            await asyncio.sleep(interval)
            for group in (self.group, *self.session_groups):
                with contextlib.suppress(RedisError, OSError):  # the next renewal tries again
                    await self.channel_layer.group_add(group, self.channel_name)

    async def disconnect(self, code):
        self.ended = True
        if self.renewal is not None:
            self.renewal.cancel()
        if self.watchdog is not None and self.watchdog is not asyncio.current_task():
            self.watchdog.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.watchdog
        await self._leave_groups()

    async def diagnostic_update(self, event):
        await self._deliver(event["message"])

    async def recording_update(self, event):
        """A recording's news (its spectrogram is ready) goes to the patient's sockets only: a
        diagnostic's socket passes on its diagnostic's messages and nothing else."""


class DiagnosticConsumer(_LiveConsumer):
    diagnostic_id: int | None = None

    def _reach(self, user, pk: int) -> str | None:
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
            await self._deliver(event["message"])


class PatientConsumer(_LiveConsumer):
    async def recording_update(self, event):
        await self._deliver(event["message"])

    def _reach(self, user, pk: int) -> str | None:
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
