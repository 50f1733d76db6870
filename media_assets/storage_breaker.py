"""The object store's circuit breaker on the upload path (``portal.core.circuit_breaker``).

While the store is down, each upload would otherwise wait for the client's connect and read
timeouts and retries before failing. After ``STORAGE_BREAKER_FAILURES`` storage failures in a row
within ``STORAGE_BREAKER_WINDOW_S`` the breaker opens: uploads are answered at once with 503
``storage_unavailable`` and ``Retry-After`` (the rest of the cool-down), before anything is
written or the hourly upload quotas are charged, and the browser's upload queue keeps the
recording and sends it again then. After ``STORAGE_BREAKER_COOLDOWN_S`` the next storage call
(an upload, or ``/readyz``'s own probe) goes through as the probe: success closes the breaker.

Guarded here: every write of an upload (``put_object``), reading a direct upload back to verify it,
and removing an object that did not become a recording. Reads for analysis have their own deadline
(``media_assets.storage.read_object``) and are not refused. State is per process; metrics:
``portal_storage_breaker_state``, ``portal_storage_breaker_rejected_total``,
``portal_storage_breaker_opened_total`` (docs/deploy.md, "Object storage outages").
"""

from contextlib import contextmanager

from media_assets.errors import StorageUnavailable
from media_assets.metrics import (
    STORAGE_BREAKER_OPENED,
    STORAGE_BREAKER_REJECTED,
    STORAGE_BREAKER_STATE,
)
from portal.core.circuit_breaker import (
    CircuitBreaker,
    CircuitOpen,
    SettingsLimits,
    Snapshot,
    exported,
)
from portal.core.storage import STORAGE_ERRORS

breaker = CircuitBreaker(
    limits=SettingsLimits(
        failures="STORAGE_BREAKER_FAILURES",
        window_s="STORAGE_BREAKER_WINDOW_S",
        cooldown_s="STORAGE_BREAKER_COOLDOWN_S",
    ),
    on_change=exported(STORAGE_BREAKER_STATE, STORAGE_BREAKER_OPENED),
    on_reject=STORAGE_BREAKER_REJECTED.inc,
)


def _unavailable(refused: CircuitOpen) -> StorageUnavailable:
    return StorageUnavailable(retry_after=refused.retry_after_s)


def admit_storage_write() -> None:
    """Refuse an upload at once while the breaker is open (``StorageUnavailable`` with
    ``retry_after``), before anything is written or charged."""
    try:
        breaker.check()
    except CircuitOpen as refused:
        raise _unavailable(refused) from None


@contextmanager
def storage_call():
    """One call to the object store: refused while the breaker is open (``StorageUnavailable``),
    and a storage error (``STORAGE_ERRORS``) inside it counts towards opening it."""
    try:
        with breaker.call(STORAGE_ERRORS):
            yield
    except CircuitOpen as refused:
        raise _unavailable(refused) from None


def status() -> Snapshot:
    return breaker.snapshot()
