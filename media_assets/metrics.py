"""Upload metrics: outcomes and rejection reasons, bytes received, how long uploads take, and the
object store's circuit breaker."""

import time
from contextlib import contextmanager

from prometheus_client import Counter, Gauge, Histogram

UPLOADS = Counter(
    "portal_uploads_total", "Recording uploads by outcome and reason", ["outcome", "reason"]
)
UPLOAD_BYTES = Counter("portal_upload_bytes_total", "Bytes of recordings received")
UPLOAD_SECONDS = Histogram(
    "portal_upload_seconds",
    "Time to check, store and enqueue an upload",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)


class _Outcome:
    def __init__(self) -> None:
        self.result = None

    def bytes_received(self, size: int) -> None:
        UPLOAD_BYTES.inc(size)

    def succeeded(self, *, duplicate: bool) -> None:
        self.result = ("duplicate" if duplicate else "stored", "")


@contextmanager
def observe_upload():
    """Count one upload: stored, duplicate, or rejected with the error's code as the reason."""
    outcome = _Outcome()
    started = time.perf_counter()
    try:
        yield outcome
    except Exception as exc:
        reason = getattr(exc, "code", None) or getattr(exc, "default_code", type(exc).__name__)
        UPLOADS.labels("rejected", str(reason)).inc()
        raise
    finally:
        UPLOAD_SECONDS.observe(time.perf_counter() - started)
    if outcome.result:
        UPLOADS.labels(*outcome.result).inc()


# The object store's circuit breaker on the upload path (media_assets.storage_breaker), per process.
STORAGE_BREAKER_STATE = Gauge(
    "portal_storage_breaker_state",
    "The object store's circuit breaker: 0 closed, 1 half-open (probing), 2 open (refusing)",
)
STORAGE_BREAKER_REJECTED = Counter(
    "portal_storage_breaker_rejected_total",
    "Storage calls refused at once because the object store's circuit breaker was open",
)
STORAGE_BREAKER_OPENED = Counter(
    "portal_storage_breaker_opened_total",
    "Times the object store's circuit breaker opened (failures in a row, or a failed probe)",
)
