"""Request ids and the access log.

Every request gets an id (a well-formed ``X-Request-ID`` from the proxy is kept, anything else is
replaced), which is returned in the response header, attached to every log line and audit event made
while handling it, and carried in the headers of the Celery tasks it enqueues (see ``portal.celery``).

The client's address is ``client_ip(request)``, for the lockout, the rate limits and the audit log
alike: the TCP peer, unless the peer is one of ``TRUSTED_PROXIES``, in which case the proxies'
``X-Forwarded-For`` says who connected to them. With no trusted proxies (the default) the header
is never believed: anyone can write it.

The access log names the route pattern (``patients/<int:pk>/``), never the concrete path or its query
string: a search for a patient's name must not end up in a log file. Django's own request and
security loggers (a 500, a refused CSRF token) put the path in the message and the request in the
record; ``PathFreeFilter`` on the log handler rewrites those records to the route pattern too.
"""

import functools
import ipaddress
import logging
import re
import time
import uuid
from contextvars import ContextVar

from django.conf import settings

request_id_var: ContextVar[str] = ContextVar("request_id", default="")

REQUEST_ID_HEADER = "X-Request-ID"
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")

access_logger = logging.getLogger("portal.access")


def new_request_id() -> str:
    return uuid.uuid4().hex


def current_request_id() -> str:
    return request_id_var.get()


def accept_request_id(candidate: str | None) -> str:
    """Keep an upstream id if it is safe to log, otherwise mint one."""
    if candidate and _VALID_REQUEST_ID.match(candidate):
        return candidate
    return new_request_id()


@functools.cache
def _networks(entries: tuple[str, ...]) -> tuple:
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)


def _address(text: str):
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def client_ip(request) -> str | None:
    """The client's address: the TCP peer, or, behind trusted proxies, the last address in
    ``X-Forwarded-For`` that no trusted proxy holds. Each proxy appends the address it saw, so only
    the entries that trusted proxies appended are believed; anything left of them is the client's
    own (forgeable) text."""
    meta = getattr(request, "META", {})
    client = _address(meta.get("REMOTE_ADDR") or "")
    if client is None:
        return None
    networks = _networks(tuple(settings.TRUSTED_PROXIES))

    def trusted(address) -> bool:
        return any(address in network for network in networks)

    if trusted(client):
        for hop in reversed(meta.get("HTTP_X_FORWARDED_FOR", "").split(",")):
            address = _address(hop)
            if address is None:
                break
            client = address
            if not trusted(address):
                break
    return str(client)


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` to every record so the JSON formatter always has the field."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", ""):
            record.request_id = request_id_var.get()
        return True


class PathFreeFilter(logging.Filter):
    """Replaces the path in records that carry a ``request`` (``django.request``, ``django.security``)
    by the route pattern, and drops the request itself, whose repr holds the full path and query."""

    def filter(self, record: logging.LogRecord) -> bool:
        request = record.__dict__.pop("request", None)
        if request is None or not hasattr(request, "path"):
            return True
        route = _route(request)
        message = record.getMessage()
        for path in (request.get_full_path(), request.path):
            message = message.replace(path, route)
        record.msg, record.args = message, ()
        record.route, record.method = route, request.method
        return True


class RequestIdMiddleware:
    """Binds a request id for the duration of the request and writes one access-log line."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request_id = accept_request_id(request.headers.get(REQUEST_ID_HEADER))
        token = request_id_var.set(request_id)
        request.request_id = request_id
        started = time.perf_counter()
        try:
            response = self.get_response(request)
            response[REQUEST_ID_HEADER] = request_id
            _log_access(request, response.status_code, started)
            return response
        finally:
            request_id_var.reset(token)


def _route(request) -> str:
    match = getattr(request, "resolver_match", None)
    return match.route if match else "<unresolved>"


def _log_access(request, status: int, started: float) -> None:
    access_logger.info(
        "request",
        extra={
            "method": request.method,
            "route": _route(request),
            "status": status,
            "duration_ms": round((time.perf_counter() - started) * 1000, 1),
        },
    )
