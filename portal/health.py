"""Liveness and readiness.

``/healthz`` says the process answers. ``/readyz`` says whether it can do its work: the database, Redis
and the object storage each get a quick probe with a short timeout, and a 503 names the part that
failed, so an orchestrator stops routing traffic here and an operator knows where to look. A process
told to stop answers 503 ``draining`` without probing anything (``portal.draining``).
The storage check also shows the store's circuit breaker (``media_assets.storage_breaker``): while
it is open the check fails at once (503, as for an unreachable store) without waiting on the
store, and after its cool-down the check is the probe that can close it again. The database check
shows the database's breaker (``portal.core.database``) the same way.

``/metrics`` (Prometheus) answers only a scraper that sends ``Authorization: Bearer $METRICS_TOKEN``;
in production without a token it is closed. It is not exempt from the HTTPS redirect. Scrapers
inside the cluster use ``WEB_METRICS_PORT`` instead, a port of its own.

A production web process also checks at start that the static files were collected: without them
every page would answer 500 (the manifest names no file), so it refuses to start instead.
"""

import hmac
import logging
import time
import uuid
from pathlib import Path

import redis
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import DatabaseError, connection
from django.http import Http404, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from django_prometheus.exports import ExportToDjangoView

from media_assets import storage_breaker
from media_assets.errors import StorageUnavailable
from portal.core import database
from portal.core.circuit_breaker import Snapshot
from portal.core.storage import STORAGE_ERRORS
from portal.draining import draining

logger = logging.getLogger(__name__)

PROBE_TIMEOUT_S = 2.0


def check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def check_redis() -> None:
    client = redis.Redis.from_url(
        settings.REDIS_URL,
        socket_connect_timeout=PROBE_TIMEOUT_S,
        socket_timeout=PROBE_TIMEOUT_S,
    )
    try:
        client.ping()
    finally:
        client.close()


def check_storage() -> None:
    """Write, read back and delete a small probe object under a prefix of its own, through the
    store's circuit breaker: while it is open this fails at once without touching the store, and
    once its cool-down is over this probe may be the one that closes it (a pod that is not ready
    gets no uploads to probe with)."""
    with storage_breaker.storage_call():
        key = default_storage.save(f"readiness/{uuid.uuid4().hex}.txt", ContentFile(b"ok"))
        try:
            with default_storage.open(key) as handle:
                if handle.read() != b"ok":
                    raise OSError("storage returned different bytes")
        finally:
            default_storage.delete(key)


def serve_metrics_apart() -> None:
    """With ``WEB_METRICS_PORT``, serve the process's metrics on that port, apart from the public
    one: Prometheus scrapes a pod there without TLS or a token (a network policy admits it alone)."""
    if settings.WEB_METRICS_PORT:
        from prometheus_client import start_http_server

        start_http_server(settings.WEB_METRICS_PORT, addr=settings.WEB_METRICS_ADDR)


def require_collected_static() -> None:
    """Refuse to serve in production before ``collectstatic`` has written its manifest."""
    if settings.PRODUCTION and not (Path(settings.STATIC_ROOT) / "staticfiles.json").exists():
        raise ImproperlyConfigured(
            f"No collected static files in {settings.STATIC_ROOT}: run "
            "`python manage.py collectstatic --noinput` before starting (docs/deploy.md)."
        )


CHECKS = {"database": check_database, "redis": check_redis, "storage": check_storage}

# Only failures we expect from an unreachable dependency are turned into a 503; anything else is a
# bug and should surface as one.
EXPECTED_FAILURES = (DatabaseError, redis.RedisError, *STORAGE_ERRORS, StorageUnavailable)


def run_checks() -> dict[str, dict]:
    results = {}
    for name, check in CHECKS.items():
        started = time.perf_counter()
        try:
            check()
            results[name] = {"ok": True}
        except EXPECTED_FAILURES as exc:
            logger.warning(
                "readiness check failed", extra={"check": name, "error": type(exc).__name__}
            )
            results[name] = {"ok": False, "error": type(exc).__name__}
        results[name]["ms"] = round((time.perf_counter() - started) * 1000, 1)
    results["database"].update(breaker_status(database.breaker.snapshot()))
    results["storage"].update(breaker_status(storage_breaker.status()))
    return results


def breaker_status(snapshot: Snapshot) -> dict:
    """A circuit breaker as ``/readyz`` shows it: its state and, while it refuses calls, the
    seconds until it lets one through."""
    shown = {"breaker": snapshot.state.value}
    if snapshot.retry_after_s is not None:
        shown["retry_after"] = snapshot.retry_after_s
    return shown


@never_cache
@require_safe
def healthz(request):
    return JsonResponse({"status": "ok"})


@never_cache
@require_safe
def readyz(request):
    if draining():  # told to stop: finishing what is in flight, taking nothing new
        body = {"status": "draining", "message": "Shutting down: finishing requests in flight."}
        return JsonResponse(body, status=503)
    results = run_checks()
    failing = [name for name, result in results.items() if not result["ok"]]
    if failing:
        body = {
            "status": "unavailable",
            "failing": failing,
            "message": f"Not ready: {', '.join(failing)} unreachable.",
            "checks": results,
        }
        return JsonResponse(body, status=503)
    return JsonResponse({"status": "ok", "checks": results})


@require_safe
def metrics(request):
    token = settings.METRICS_TOKEN
    if not token:
        if settings.PRODUCTION:
            raise Http404("Metrics are served only to a scraper with METRICS_TOKEN.")
        return ExportToDjangoView(request)  # development: loopback only
    sent = request.headers.get("Authorization", "").encode()
    if not hmac.compare_digest(sent, f"Bearer {token}".encode()):
        refused = HttpResponse(
            "A bearer token is required.\n", status=401, content_type="text/plain"
        )
        refused["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return refused
    return ExportToDjangoView(request)
