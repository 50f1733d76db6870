"""Checking that stored objects still hold the bytes their recordings were stored with.

A file overwritten in place (a faulty disk, a stray process, a restore gone wrong) keeps its name,
so a check that the object exists cannot see it. Its sha256 can: ``verify_contents`` reads a
random sample of stored recordings through the storage, hashes them, and quarantines those that
no longer match (kept for the audit trail, out of every listing and every analysis). Reading is
paced to ``rate_bytes_s`` so that a check of a large store does not starve uploads of disk or
network bandwidth.
"""

import hashlib
import logging
import time
from dataclasses import dataclass, field

from media_assets.encryption import StoredObjectUnreadable, UnknownKeyId
from media_assets.models import Recording, RecordingStatus
from media_assets.storage import open_object
from portal.core.storage import STORAGE_ERRORS

logger = logging.getLogger(__name__)

CHUNK = 1024 * 1024


@dataclass
class Verification:
    objects: int = 0
    bytes: int = 0
    mismatched: list[int] = field(default_factory=list)  # recording ids
    unreadable: list[int] = field(default_factory=list)  # left to the existence check
    quarantined: int = 0


class _Pace:
    """Sleeps as needed so that the bytes read stay under ``rate`` per second."""

    def __init__(self, rate: int) -> None:
        self.rate = max(1, rate)
        self.started = time.monotonic()
        self.read = 0

    def add(self, size: int) -> None:
        self.read += size
        ahead = self.read / self.rate - (time.monotonic() - self.started)
        if ahead > 0:
            time.sleep(ahead)


def verify_contents(*, sample: int | None, rate_bytes_s: int) -> Verification:
    """Hash ``sample`` stored recordings chosen at random (every one when None) and quarantine
    those whose bytes no longer match their sha256."""
    stored = Recording.objects.filter(status=RecordingStatus.STORED).order_by("?")
    if sample is not None:
        stored = stored[:sample]
    outcome = Verification()
    pace = _Pace(rate_bytes_s)
    for recording_id, key, sha256 in stored.values_list("id", "storage_key", "sha256"):
        try:
            digest = _sha256_of(key, pace)
        except STORAGE_ERRORS as exc:
            if _altered(exc):
                outcome.objects += 1
                outcome.mismatched.append(recording_id)
                continue
            logger.warning(
                "object not verified",
                extra={"recording": recording_id, "error": type(exc).__name__},
            )
            outcome.unreadable.append(recording_id)
            continue
        outcome.objects += 1
        outcome.bytes += digest[1]
        if digest[0] != sha256:
            outcome.mismatched.append(recording_id)
    if outcome.mismatched:
        outcome.quarantined = Recording.objects.filter(
            pk__in=outcome.mismatched, status=RecordingStatus.STORED
        ).update(status=RecordingStatus.QUARANTINED)
        logger.error(
            "stored objects do not match their sha256", extra={"count": len(outcome.mismatched)}
        )
    return outcome


def _sha256_of(key: str, pace: _Pace) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with open_object(key) as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
            pace.add(len(chunk))
    return digest.hexdigest(), size


def _altered(exc: BaseException) -> bool:
    """Encrypted at rest, an object whose bytes were changed fails its integrity check rather than
    hashing differently: that is a mismatch. A key missing from the ring is the server's fault,
    not the object's, and is left unverified."""
    return isinstance(exc, StoredObjectUnreadable) and not isinstance(exc, UnknownKeyId)
