"""Who may try a password now: django-axes' counters of failed sign-ins, read three ways.

Only failures count (a success clears its own pair), on the sign-in form, the admin and the API's
token endpoint alike, each counted within the cool-off window (``LOGIN_LOCKOUT_MINUTES``):

- a username at one address: ``LOGIN_FAILURE_LIMIT`` failures lock that pair, not the username
  everywhere, so a stranger's wrong guesses cannot keep the user out of their own workstation;
- one address, all usernames: ``LOGIN_ADDRESS_FAILURE_LIMIT`` failures pause every sign-in from it,
  which stops a password spray while a ward behind one proxy still signs in (their successes are
  never counted);
- one username, all addresses: past ``LOGIN_USERNAME_FAILURE_LIMIT`` failures an attacker with many
  addresses is slowed to one wrong guess per address, and the user, who types the right password
  at their own address, still signs in.

Addresses come from ``portal.core.observability.client_ip`` (``AXES_CLIENT_IP_CALLABLE``).
"""

from axes.attempts import get_cool_off_threshold
from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username, get_cool_off
from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Sum
from django.shortcuts import render

from portal.core.rest.errors import error_response

PAUSED_MESSAGE = "Too many failed sign-ins. Sign-in is paused here for a few minutes."


class SignInLockout(AxesDatabaseHandler):
    """``AXES_HANDLER``: axes' database records, locked by the three limits above."""

    def is_locked(self, request, credentials=None) -> bool:
        if not settings.AXES_LOCK_OUT_AT_FAILURE:
            return False
        username = get_client_username(request, credentials)
        address = request.axes_ip_address
        recent = AccessAttempt.objects.filter(attempt_time__gte=get_cool_off_threshold(request))

        def failures(**where) -> int:
            return recent.filter(**where).aggregate(n=Sum("failures_since_start"))["n"] or 0

        here = failures(username=username, ip_address=address)
        return (
            here >= settings.AXES_FAILURE_LIMIT
            or failures(ip_address=address) >= settings.LOGIN_ADDRESS_FAILURE_LIMIT
            or (here > 0 and failures(username=username) >= settings.LOGIN_USERNAME_FAILURE_LIMIT)
        )

    def user_login_failed(self, sender, credentials: dict, request=None, **kwargs):
        super().user_login_failed(sender, credentials, request, **kwargs)
        if request is None:
            return
        locked = self.is_locked(request, credentials)
        # The token endpoint hands axes DRF's request; the middleware answers from Django's.
        for target in (request, getattr(request, "_request", request)):
            target.axes_locked_out = locked
            target.axes_credentials = credentials


def paused_response(request, original_response=None, credentials=None):
    """``AXES_LOCKOUT_CALLABLE``: 429 with ``Retry-After``, in the API's shape under ``/api/``."""
    retry_after = str(int(get_cool_off(request).total_seconds()))
    if request.path.startswith("/api/"):
        response = error_response(429, "sign_in_paused", PAUSED_MESSAGE)
    else:
        response = render(request, settings.AXES_LOCKOUT_TEMPLATE, status=429)
    response["Retry-After"] = retry_after
    return response
