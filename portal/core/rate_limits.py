"""Counting requests and uploads against limits: atomically in Redis, locally while it is away.

A charge names one or more counters (``Limit``: a key, an amount, the most allowed, a window in
seconds). One Lua script checks every counter and, only if all of them have room, adds to all of
them and starts the window of any that is new, in one step on the server: parallel requests in
any number of processes cannot read the same count and both pass, as they did with DRF's
read-modify-write of the cache. A refused charge adds nothing; its ``retry_after`` is the time
left in the window of the counter that refused it.

Windows are fixed (they start with the first charge and last ``window_s``), so a client can spend
a whole limit at the end of one window and again at the start of the next, and no more.

When Redis cannot be reached, each process counts by itself (the same limits, per process) instead
of refusing everyone or letting everything through: reads that need only PostgreSQL keep working
in an outage, and no client gets more than the limit times the number of web processes. Each
fallback is counted in ``portal_rate_limit_fallback_total``, and the switch to and from it is
logged once. Redis is tried again at most every ``REDIS_RETRY_S``, so an outage does not add a
connection attempt to every request.
"""

import functools
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

import redis
from django.conf import settings
from prometheus_client import Counter

logger = logging.getLogger(__name__)

KEY_PREFIX = "portal:rate:"
REDIS_RETRY_S = 1.0
REDIS_TIMEOUT_S = 0.5

FALLBACKS = Counter(
    "portal_rate_limit_fallback_total",
    "Rate-limit charges counted in the process because Redis was unreachable",
)

# KEYS: the counters. ARGV: amount, limit and window (seconds) per key, in threes.
# Returns {1, 0, 0} when charged; when refused, {0, ms left in the refusing counter's window, its
# position in KEYS}.
_CHARGE = """
for i, key in ipairs(KEYS) do
  local amount = tonumber(ARGV[i * 3 - 2])
  local limit = tonumber(ARGV[i * 3 - 1])
  local used = tonumber(redis.call('GET', key) or '0')
  if used + amount > limit then
    local left = redis.call('PTTL', key)
    if left < 0 then left = tonumber(ARGV[i * 3]) * 1000 end
    return {0, left, i}
  end
end
for i, key in ipairs(KEYS) do
  redis.call('INCRBY', key, ARGV[i * 3 - 2])
  if redis.call('PTTL', key) < 0 then
    redis.call('PEXPIRE', key, tonumber(ARGV[i * 3]) * 1000)
  end
end
return {1, 0, 0}
"""


@dataclass(frozen=True)
class Limit:
    key: str
    amount: int
    limit: int
    window_s: int


@dataclass(frozen=True)
class Decision:
    allowed: bool
    retry_after: int = 0  # whole seconds, at least 1 when refused
    refused_by: Limit | None = None


def charge(limits: Sequence[Limit]) -> Decision:
    """Add each amount to its counter if every counter has room for it; otherwise add nothing."""
    if not limits:
        return Decision(True)
    state = _redis_state(settings.REDIS_URL)
    if state.usable():
        try:
            allowed, left_ms, position = _script(settings.REDIS_URL)(
                keys=[KEY_PREFIX + limit.key for limit in limits],
                args=[v for limit in limits for v in (limit.amount, limit.limit, limit.window_s)],
            )
        except (redis.RedisError, OSError) as exc:
            state.failed(exc)
        else:
            state.succeeded()
            if allowed:
                return Decision(True)
            retry_after = max(1, -(-int(left_ms) // 1000))
            return Decision(False, retry_after, limits[int(position) - 1])
    FALLBACKS.inc()
    return _local.charge(limits)


class _RedisState:
    """Whether to try Redis now, and one log line when it goes away and when it is back."""

    def __init__(self) -> None:
        self.down_since: float | None = None
        self.retry_at = 0.0

    def usable(self) -> bool:
        return self.down_since is None or time.monotonic() >= self.retry_at

    def failed(self, exc: BaseException) -> None:
        now = time.monotonic()
        if self.down_since is None:
            self.down_since = now
            logger.warning(
                "rate limits counted in this process: Redis unreachable",
                extra={"error": type(exc).__name__},
            )
        self.retry_at = now + REDIS_RETRY_S

    def succeeded(self) -> None:
        if self.down_since is not None:
            logger.info(
                "rate limits counted in Redis again",
                extra={"outage_s": round(time.monotonic() - self.down_since, 1)},
            )
            self.down_since = None


class _LocalCounters:
    """The same fixed windows, in this process only."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.counters: dict[str, tuple[int, float]] = {}  # key: (used, window ends)

    def charge(self, limits: Sequence[Limit]) -> Decision:
        now = time.monotonic()
        with self.lock:
            self.counters = {k: v for k, v in self.counters.items() if v[1] > now}
            for limit in limits:
                used, ends = self.counters.get(limit.key, (0, now + limit.window_s))
                if used + limit.amount > limit.limit:
                    return Decision(False, max(1, int(ends - now + 0.999)), limit)
            for limit in limits:
                used, ends = self.counters.get(limit.key, (0, now + limit.window_s))
                self.counters[limit.key] = (used + limit.amount, ends)
        return Decision(True)


_local = _LocalCounters()


@functools.cache
def _redis_state(url: str) -> _RedisState:
    return _RedisState()


@functools.cache
def _script(url: str):
    client = redis.Redis.from_url(
        url, socket_timeout=REDIS_TIMEOUT_S, socket_connect_timeout=REDIS_TIMEOUT_S
    )
    return client.register_script(_CHARGE)
