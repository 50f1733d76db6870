"""What a lost database connection looks like, and how requests and tasks answer it.

A restart or failover of PostgreSQL drops every open connection and refuses new ones for a moment.
The pool checks a connection before handing it out (``CONN_HEALTH_CHECKS``), so a dead one is
replaced instead of failing the request; what still fails on a lost connection is answered here:

- a GET or HEAD is run once more, on a fresh connection (``RetryIdempotentMiddleware``): it
  changes nothing, so repeating it is safe;
- anything else, and a GET whose second try fails too, is answered 503 ``database_unavailable``
  with ``Retry-After`` (JSON on the API, a page on pages): the client may try again;
- Celery tasks retry with a back-off (``portal.celery``), as they are idempotent.

``OperationalError`` covers more than lost connections (a lock or a statement timeout); each of
those is also "try again in a moment", so they get the same answer.
"""

import logging

from django.db import InterfaceError, OperationalError, connections

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
