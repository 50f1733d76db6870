"""What a lost database connection looks like, and how requests and tasks answer it.

A restart or failover of PostgreSQL drops every open connection and refuses new ones for a moment.
The pool checks a connection before handing it out (``CONN_HEALTH_CHECKS``), so a dead one is
replaced instead of failing the request; what still fails on a lost connection is answered here:

- a GET or HEAD is run once more, on a fresh connection (``RetryIdempotentMiddleware``): it
  changes nothing, so repeating it is safe;
- anything else, and a GET whose second try fails too, is answered 503 ``database_unavailable``
  with ``Retry-After`` (JSON on the API, a page on pages): the client may try again;
- Celery tasks retry with a back-off (``portal.celery``), as they are idempotent.

While the database is away, the pool would make every request wait ``DATABASE_POOL_TIMEOUT`` for
a connection, and a page that touches the database three or four times (the session, the user, the
error page, the retry) waits that long each time. A circuit breaker (``portal.core.circuit_breaker``)
stops that: a pool timeout after which a direct connection fails too (``connect_timeout`` 2 s)
opens it, and for ``DATABASE_BREAKER_COOLDOWN_S`` every new connection of the process is refused at
once, answered as above; then one connection goes through as the probe, and its success closes the
breaker. A pool timeout while the database still accepts connections is a saturated pool, not an
outage: it fails that request and opens nothing. Metrics: ``portal_database_breaker_state``,
``portal_database_breaker_opened_total``, ``portal_database_breaker_rejected_total``.

``OperationalError`` covers more than lost connections (a lock or a statement timeout); each of
those is also "try again in a moment", so they get the same answer.
"""

import logging
from collections.abc import Callable
from contextlib import contextmanager

import psycopg
from django.conf import settings
from django.db import InterfaceError, OperationalError, connections
from prometheus_client import Counter, Gauge
from psycopg_pool import PoolTimeout

from portal.core.circuit_breaker import CircuitBreaker, CircuitOpen, SettingsLimits, State, exported
from portal.core.errors import Unavailable

logger = logging.getLogger(__name__)

DATABASE_ERRORS: tuple[type[BaseException], ...] = (OperationalError, InterfaceError)
RETRY_AFTER_S = 5
IDEMPOTENT = ("GET", "HEAD")


class DatabaseUnavailable(Unavailable):
    code = "database_unavailable"
    default_message = "The database cannot be reached right now. Please try again in a moment."


def as_unavailable(exc: BaseException | None) -> DatabaseUnavailable | None:
    """The domain failure a lost connection is answered with, or None for anything else."""
    if isinstance(exc, DATABASE_ERRORS):
        return DatabaseUnavailable(retry_after=RETRY_AFTER_S)
    return None


def mark_retryable(response):
    """Tell ``RetryIdempotentMiddleware`` that this answer came from a lost connection."""
    response.database_unavailable = True
    return response


class RetryIdempotentMiddleware:
    """A GET or HEAD answered 503 for a lost connection runs once more on a fresh connection."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if request.method in IDEMPOTENT and getattr(response, "database_unavailable", False):
            for connection in connections.all(initialized_only=True):
                connection.close()
            logger.warning("request run again after a lost database connection")
            response = self.get_response(request)
        return response


# --- The breaker on new connections --------------------------------------------------------------

BREAKER_STATE = Gauge(
    "portal_database_breaker_state",
    "The database's circuit breaker in this process: 0 closed, 1 half-open (probing), 2 open",
)
BREAKER_OPENED = Counter(
    "portal_database_breaker_opened_total",
    "Times the database's circuit breaker opened (the database unreachable)",
)
BREAKER_REJECTED = Counter(
    "portal_database_breaker_rejected_total",
    "New database connections refused at once because the database's circuit breaker was open",
)


class DatabaseUnreachable(psycopg.OperationalError):
    """No connection: the database refused or did not answer a direct connection, or the breaker
    is open. A driver error, so that Django raises it as ``OperationalError`` as it does any
    other connection failure."""


_export = exported(BREAKER_STATE, BREAKER_OPENED)


def _changed(state: State) -> None:
    _export(state)
    if state == State.OPEN:
        logger.warning(
            "database unreachable: new connections refused at once for %s s",
            settings.DATABASE_BREAKER_COOLDOWN_S,
        )
    elif state == State.CLOSED:
        logger.warning("database reachable again")


# One confirmed failure opens it: the direct connection that failed after the pool's timeout is
# the confirmation.
breaker = CircuitBreaker(
    limits=SettingsLimits(
        failures=1,
        window_s="DATABASE_BREAKER_COOLDOWN_S",
        cooldown_s="DATABASE_BREAKER_COOLDOWN_S",
    ),
    on_change=_changed,
    on_reject=BREAKER_REJECTED.inc,
)


@contextmanager
def new_connection(answers: Callable[[], bool]):
    """Getting one connection from the pool, through the breaker: refused with
    ``DatabaseUnreachable`` while it is open; a ``PoolTimeout`` counts against the database only
    when ``answers()`` (a direct connection) fails too."""
    try:
        with breaker.call((DatabaseUnreachable,)):
            try:
                yield
            except PoolTimeout as timeout:
                if answers():
                    raise  # a saturated pool: this request fails, the database is fine
                raise DatabaseUnreachable(f"the database did not answer ({timeout})") from timeout
    except CircuitOpen as refused:
        raise DatabaseUnreachable(
            f"the database was unreachable moments ago; retry in {refused.retry_after_s} s"
        ) from None
