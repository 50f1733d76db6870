"""Ending what a user holds when their sign-in ends: API tokens and live sockets.

Tokens: every token carries a stamp of the user's token generation and password hash; a token
whose stamp is no longer the user's is refused (``portal.core.rest.tokens``). ``revoke`` moves the
generation on, so every access and refresh token of the user dies at once, and blacklists the
outstanding refresh tokens. A password changed by any door changes the stamp as well.

Sockets: each live socket joins its session's group and its user's group; ``revoke`` closes the
user's sockets, and signing out closes the session's. A socket also checks its session itself
(``session_expiry``) every ``SOCKET_SESSION_CHECK_SECONDS``, and before a message once the expiry
it last read has passed or that read is older than ``SOCKET_SESSION_TRUST_SECONDS``, so one whose
session ended by any other way (the idle timeout) closes too.

The events: signing out (any door: ``user_logged_out``), a password change, deactivation, a
lost membership (changed or deleted, or its site deleted) and the user's deletion (the pages and
the admin call ``revoke``, or ``revoke_members`` for a site's members). A deleted user's tokens
would fail anyway (no user to load), but they are revoked explicitly before the deletion, so the
blacklist says so and no token can outlive its user by any path. Single sign-on also ends the
user's other browser sessions with ``end_sessions`` when the provider takes a group away.
"""

import hashlib
import logging
from datetime import datetime

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.contrib.auth.signals import user_logged_out
from django.contrib.sessions.models import Session
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from portal.core.audit import AuditContext, record_event
from portal.core.models import TokenGeneration

logger = logging.getLogger(__name__)

SESSION_ENDED = 4401  # the close code of a socket whose session has ended
STAMP_CLAIM = "stamp"


def user_group(user_id: int) -> str:
    return f"sockets-user-{user_id}"


def session_group(session_key: str) -> str:
    # A hash: the key itself is a credential and group names end up in Redis.
    return f"sockets-session-{hashlib.sha256(session_key.encode()).hexdigest()[:40]}"


def generation_of(user) -> int:
    try:
        return user.token_generation.value
    except TokenGeneration.DoesNotExist:
        return 0


def token_stamp(user) -> str:
    """What a token of ``user`` must carry to be valid now."""
    material = f"{generation_of(user)}:{user.password}"
    return salted_hmac("portal.core.revocation.token", material, algorithm="sha256").hexdigest()[
        :40
    ]


def stamp_matches(user, stamp: str | None) -> bool:
    return bool(stamp) and constant_time_compare(stamp, token_stamp(user))


def revoke(
    *, user, reason: str, audit: AuditContext | None = None, close_users_sockets: bool = True
) -> None:
    """End every API token of ``user`` and, unless told not to (signing out closes only the
    session's), close all their live sockets after the commit."""
    with transaction.atomic():
        generation, _created = TokenGeneration.objects.get_or_create(user=user)
        TokenGeneration.objects.filter(pk=generation.pk).update(value=F("value") + 1)
        live = OutstandingToken.objects.filter(user=user, expires_at__gt=timezone.now())
        BlacklistedToken.objects.bulk_create(
            [BlacklistedToken(token=token) for token in live.filter(blacklistedtoken=None)],
            ignore_conflicts=True,
        )
        record_event(
            action="auth.credentials_revoked", actor=user, context=audit,
            detail={"reason": reason},
        )  # fmt: skip
        if close_users_sockets:
            transaction.on_commit(lambda: close_sockets(user_group(user.pk)))


def revoke_members(*, sites, reason: str, audit: AuditContext | None = None) -> None:
    """``revoke`` for every member of ``sites`` (a queryset or list of sites about to go)."""
    members = get_user_model().objects.filter(memberships__site__in=sites).distinct()
    for user in members:
        revoke(user=user, reason=reason, audit=audit)


def end_sessions(*, user, keep: str | None = None) -> int:
    """Sign ``user`` out of every browser session but ``keep`` (a session key); the number ended.

    Sessions are rows keyed by a random key, not by user, so the live ones are read and decoded:
    with the idle timeout there are only as many as people working now.
    """
    live = Session.objects.filter(expire_date__gt=timezone.now()).exclude(session_key=keep or "")
    ended = [
        row.session_key
        for row in live.iterator(chunk_size=500)
        if row.get_decoded().get(SESSION_KEY) == str(user.pk)
    ]
    Session.objects.filter(session_key__in=ended).delete()
    return len(ended)


def close_sockets(group: str) -> None:
    """Tell every socket in ``group`` to close; a Redis hiccup must not fail the sign-out (the
    sockets' own session checks close them within ``SOCKET_SESSION_CHECK_SECONDS``)."""
    try:
        async_to_sync(get_channel_layer().group_send)(group, {"type": "session.ended"})
    except Exception as exc:  # the channel layer raises whatever its Redis client raises
        logger.warning("sockets not told to close", extra={"error": type(exc).__name__})


def session_expiry(session_key: str | None, user) -> datetime | None:
    """When the session's idle timeout ends, if it is still signed in as ``user`` (not signed out,
    not idle past its expiry, not from before a password change) and ``user`` may still sign in;
    None otherwise. The expiry only moves on (``portal.core.sessions`` renews it while the user is
    active), so until then the session can end only by the events that close sockets."""
    if not session_key or not user.is_active:
        return None
    # Sessions live in the database (Django's default engine, the project's): the row's expiry is
    # the idle timeout, moved on by portal.core.sessions while the user is active.
    row = Session.objects.filter(session_key=session_key, expire_date__gt=timezone.now()).first()
    if row is None:
        return None
    data = row.get_decoded()
    signed_in = (
        data.get(SESSION_KEY) == str(user.pk)
        and BACKEND_SESSION_KEY in data
        and constant_time_compare(data.get(HASH_SESSION_KEY, ""), user.get_session_auth_hash())
    )
    return row.expire_date if signed_in else None


def _signed_out(sender, request, user, **kwargs):
    if user is None:
        return
    revoke(
        user=user, reason="signed_out", audit=AuditContext.of(request), close_users_sockets=False
    )
    session_key = getattr(getattr(request, "session", None), "session_key", None)
    if session_key:
        close_sockets(session_group(session_key))


def connect_sign_out() -> None:
    """Signing out by any door (pages, admin) ends the user's tokens and the session's sockets;
    Django's signal is the one hook all of them pass."""
    user_logged_out.connect(_signed_out, dispatch_uid="portal-revoke-on-sign-out")
