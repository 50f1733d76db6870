"""Periodic jobs that keep the database and the object storage in agreement.

Both are safe to run twice and while uploads are under way. Direct uploads left pending are removed
after ``PENDING_UPLOAD_MAX_AGE_S``. An upload the server writes within a request holds its pending
row locked until the row is stored (``media_assets.services``), so one whose process died is told
from one in flight at once: a pending row older than ``RECONCILE_UPLOAD_GRACE_S`` (the moment
between its commit and its lock) that no live upload holds is abandoned. Objects that no row names
at all (left by an older release, or written by hand) are removed after ``RECONCILE_GRACE_S``.
``reconcile_storage(verify=True)`` also reads a sample of stored objects, at a bounded rate, and
quarantines those whose bytes no longer match their sha256.
"""

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from media_assets.models import Recording, RecordingStatus
from media_assets.services import IN_REQUEST_UPLOADS, discard_object
from media_assets.storage import RECORDINGS_PREFIX, iter_objects, object_size
from media_assets.verification import verify_contents

logger = logging.getLogger(__name__)


def cleanup_pending_uploads(*, max_age_s: int | None = None, now=None) -> int:
    """Remove direct uploads that were opened and never completed, and uploads whose process died
    while writing them (``abandoned_uploads``): object first, then row."""
    max_age_s = settings.PENDING_UPLOAD_MAX_AGE_S if max_age_s is None else max_age_s
    cutoff = (now or timezone.now()) - timedelta(seconds=max_age_s)
    stale = Recording.objects.filter(status=RecordingStatus.PENDING, created_at__lt=cutoff)
    removed = sum(remove_abandoned_upload(pk) for pk, _key in abandoned_uploads(now=now))
    for recording in stale.iterator():
        discard_object(recording.storage_key)
        with transaction.atomic():
            # Re-checked under the same condition: a completion may have won meanwhile.
            removed += Recording.objects.filter(
                pk=recording.pk, status=RecordingStatus.PENDING
            ).delete()[0]
    logger.info("stale pending uploads removed", extra={"count": removed})
    return removed


@dataclass
class ReconcileReport:
    missing_objects: list[int] = field(default_factory=list)  # recording ids
    orphan_objects: list[str] = field(default_factory=list)  # storage keys
    quarantined: int = 0
    deleted_objects: int = 0
    checked_rows: int = 0
    checked_objects: int = 0
    # (recording id, storage key) of uploads whose process died before their row was stored
    abandoned_uploads: list[tuple[int, str]] = field(default_factory=list)
    removed_uploads: int = 0
    verified_objects: int = 0
    verified_bytes: int = 0
    mismatched_objects: list[int] = field(default_factory=list)  # recording ids

    def as_dict(self) -> dict:
        return {
            "checked_rows": self.checked_rows,
            "checked_objects": self.checked_objects,
            "missing_objects": len(self.missing_objects),
            "orphan_objects": len(self.orphan_objects),
            "abandoned_uploads": len(self.abandoned_uploads),
            "verified_objects": self.verified_objects,
            "verified_bytes": self.verified_bytes,
            "mismatched_objects": len(self.mismatched_objects),
            "quarantined": self.quarantined,
            "deleted_objects": self.deleted_objects,
            "removed_uploads": self.removed_uploads,
        }


def reconcile_storage(
    *,
    repair: bool = False,
    grace_s: int | None = None,
    now=None,
    verify: bool = False,
    sample: int | None = None,
    rate_bytes_s: int | None = None,
) -> "ReconcileReport":
    """Find stored rows whose object is missing, abandoned uploads and objects no row names;
    repair if asked. With ``verify``, also hash a sample of stored objects (``sample`` of them,
    all when None, read at ``rate_bytes_s`` at most) and quarantine the mismatches.

    Repair quarantines rows without their object (they stay for the audit trail, out of every
    listing of stored recordings), removes abandoned uploads (object, then row) and deletes
    orphan objects older than the grace period.
    """
    grace_s = settings.RECONCILE_GRACE_S if grace_s is None else grace_s
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=grace_s)
    report = ReconcileReport()
    report.abandoned_uploads = abandoned_uploads(now=now)
    stored = Recording.objects.filter(status=RecordingStatus.STORED, stored_at__lt=cutoff)
    for recording_id, key in stored.values_list("id", "storage_key").iterator():
        report.checked_rows += 1
        if object_size(key) is None:
            report.missing_objects.append(recording_id)
    known = set(Recording.objects.values_list("storage_key", flat=True))
    for key, modified in iter_objects(RECORDINGS_PREFIX):
        report.checked_objects += 1
        if key not in known and modified < cutoff:
            report.orphan_objects.append(key)
    if repair:
        _repair(report)
    if verify:
        outcome = verify_contents(
            sample=sample, rate_bytes_s=rate_bytes_s or settings.RECONCILE_VERIFY_BYTES_PER_S
        )
        report.verified_objects, report.verified_bytes = outcome.objects, outcome.bytes
        report.mismatched_objects = outcome.mismatched
        report.quarantined += outcome.quarantined
    logger.info("storage reconciled", extra=report.as_dict())
    return report


def abandoned_uploads(*, now=None) -> list[tuple[int, str]]:
    """(id, storage key) of in-request uploads whose process died: pending rows older than
    ``RECONCILE_UPLOAD_GRACE_S`` that no live upload holds locked. A database without row locks
    (SQLite, the embedded default) cannot tell a live upload that way, so there a row must be as
    old as ``RECONCILE_GRACE_S``."""
    grace_s = settings.RECONCILE_UPLOAD_GRACE_S
    if not connection.features.has_select_for_update_skip_locked:
        grace_s = max(grace_s, settings.RECONCILE_GRACE_S)
    cutoff = (now or timezone.now()) - timedelta(seconds=grace_s)
    with transaction.atomic():
        return list(
            Recording.objects.filter(IN_REQUEST_UPLOADS, created_at__lt=cutoff)
            .select_for_update(skip_locked=True)
            .order_by("id")
            .values_list("id", "storage_key")
        )


def remove_abandoned_upload(recording_id: int) -> bool:
    """Remove an abandoned upload's object, then its row, unless a live upload holds it now."""
    with transaction.atomic():
        row = (
            Recording.objects.filter(IN_REQUEST_UPLOADS, pk=recording_id)
            .select_for_update(skip_locked=True)
            .first()
        )
        if row is None:
            return False
        discard_object(row.storage_key)
        row.delete()
    return True


def _repair(report: ReconcileReport) -> None:
    for recording_id, _key in report.abandoned_uploads:
        report.removed_uploads += remove_abandoned_upload(recording_id)
    report.quarantined = Recording.objects.filter(
        pk__in=report.missing_objects, status=RecordingStatus.STORED
    ).update(status=RecordingStatus.QUARANTINED)
    known = set(
        Recording.objects.filter(storage_key__in=report.orphan_objects).values_list(
            "storage_key", flat=True
        )
    )
    for key in report.orphan_objects:
        if key not in known:  # a row may have committed since the scan
            discard_object(key)
            report.deleted_objects += 1
