"""The idle timeout, renewed without writing the session row on every request.

``SESSION_COOKIE_AGE`` is an idle timeout: a signed-in session ends after that long without a
request. Django's ``SESSION_SAVE_EVERY_REQUEST`` would keep it so by rewriting the session row on
every request, and each rewrite leaves a dead row version and index entries behind until the
database vacuums them, so a busy clinician's own session row grows slower to read by the minute.
This middleware renews it at most once every ``SESSION_RENEW_SECONDS`` (and whenever the session
changes anyway), so a session ends between ``SESSION_COOKIE_AGE - SESSION_RENEW_SECONDS`` and
``SESSION_COOKIE_AGE`` after the last request; the warning script counts with the shorter one.
"""

import time

from django.conf import settings
from django.contrib.auth import SESSION_KEY

RENEWED_AT = "_renewed_at"


def warning_script_age() -> int:
    """The idle timeout the warning script counts down: the shortest a session may last."""
    return max(settings.SESSION_COOKIE_AGE - settings.SESSION_RENEW_SECONDS, 0)


class SessionRenewalMiddleware:
    """Renew a signed-in session's expiry when it is due (after ``SessionMiddleware``)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        session = getattr(request, "session", None)
        if session is None or session.session_key is None or SESSION_KEY not in session:
            return response  # no session, or not a signed-in one: nothing to keep alive
        now = int(time.time())
        due = now - session.get(RENEWED_AT, 0) >= settings.SESSION_RENEW_SECONDS
        if due or session.modified:
            session[RENEWED_AT] = now  # a change: SessionMiddleware saves with a new expiry
        return response
