"""Request rates per signed-in user, per anonymous address, and for research exports.

Counted by ``portal.core.rate_limits`` (one atomic step in Redis, so parallel requests cannot slip
past the limit; counted in the process while Redis is away, so an outage does not turn every
request into an error). Rates are read on every request, so that a change of
``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]`` (settings, tests) takes effect at once. A throttled
request gets 429 with ``Retry-After`` in the API's error shape (``portal.core.rest.errors``).
An anonymous caller is counted by ``portal.core.observability.client_ip``, which believes
``X-Forwarded-For`` only from ``TRUSTED_PROXIES``.
"""

from rest_framework.settings import api_settings
from rest_framework.throttling import AnonRateThrottle, ScopedRateThrottle, UserRateThrottle

from portal.core import rate_limits
from portal.core.observability import client_ip


class _CountedRate:
    """DRF's keys and rate strings; the counting is ``rate_limits.charge``'s."""

    retry_after = None

    def get_rate(self):
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def get_ident(self, request):
        return client_ip(request) or ""

    def allow_request(self, request, view):
        return self.charge(request, view)

    def charge(self, request, view) -> bool:
        self.rate = self.get_rate()
        if self.rate is None:
            return True
        self.num_requests, self.duration = self.parse_rate(self.rate)
        key = self.get_cache_key(request, view)
        if key is None:
            return True
        decision = rate_limits.charge([rate_limits.Limit(key, 1, self.num_requests, self.duration)])
        self.retry_after = decision.retry_after
        return decision.allowed

    def wait(self):
        return self.retry_after


class UserThrottle(_CountedRate, UserRateThrottle):
    """Signed-in users by id; anonymous requests by address (the ``anon`` rate applies too)."""


class AnonThrottle(_CountedRate, AnonRateThrottle):
    """Anonymous requests (token requests, mostly) by client address."""


class ScopedThrottle(_CountedRate, ScopedRateThrottle):
    """A view's own ``throttle_scope`` (the research export), per user."""

    def allow_request(self, request, view):
        self.scope = getattr(view, self.scope_attr, None)
        if not self.scope:
            return True
        return self.charge(request, view)
