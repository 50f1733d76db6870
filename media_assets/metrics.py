"""Upload metrics: outcomes and rejection reasons, bytes received, and how long uploads take."""

import time
from contextlib import contextmanager

from prometheus_client import Counter, Histogram

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
