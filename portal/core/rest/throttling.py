"""Request rates per signed-in user, per anonymous address, and for research exports.

DRF's own classes read their rates once, at import; these read them on every request, so that a
change of ``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]`` (settings, tests) takes effect at once. A
throttled request gets 429 with ``Retry-After`` in the API's error shape (``portal.core.rest.errors``).
An anonymous caller is counted by ``portal.core.observability.client_ip``, which believes
``X-Forwarded-For`` only from ``TRUSTED_PROXIES``.
"""

from rest_framework.settings import api_settings
from rest_framework.throttling import AnonRateThrottle, ScopedRateThrottle, UserRateThrottle

from portal.core.observability import client_ip


class _LiveRates:
    def get_rate(self):
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def get_ident(self, request):
        return client_ip(request) or ""


class UserThrottle(_LiveRates, UserRateThrottle):
    """Signed-in users by id; anonymous requests by address (the ``anon`` rate applies too)."""


class AnonThrottle(_LiveRates, AnonRateThrottle):
    """Anonymous requests (token requests, mostly) by client address."""


class ScopedThrottle(_LiveRates, ScopedRateThrottle):
    """A view's own ``throttle_scope`` (the research export), per user."""
