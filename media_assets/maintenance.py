"""Periodic jobs that keep the database and the object storage in agreement.

Both are safe to run twice and while uploads are under way: they only touch pending uploads older
than ``PENDING_UPLOAD_MAX_AGE_S`` and objects older than a grace period, so an upload in flight (an
object written, its row not yet committed) is never mistaken for debris.
"""

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from media_assets.models import Recording, RecordingStatus
from media_assets.services import discard_object
from media_assets.storage import RECORDINGS_PREFIX, iter_objects, object_size

logger = logging.getLogger(__name__)


def cleanup_pending_uploads(*, max_age_s: int | None = None, now=None) -> int:
    """Remove direct uploads that were opened and never completed: object first, then row."""
    max_age_s = settings.PENDING_UPLOAD_MAX_AGE_S if max_age_s is None else max_age_s
    cutoff = (now or timezone.now()) - timedelta(seconds=max_age_s)
    stale = Recording.objects.filter(status=RecordingStatus.PENDING, created_at__lt=cutoff)
    removed = 0
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

    def as_dict(self) -> dict:
        return {
            "checked_rows": self.checked_rows,
            "checked_objects": self.checked_objects,
            "missing_objects": len(self.missing_objects),
            "orphan_objects": len(self.orphan_objects),
            "quarantined": self.quarantined,
            "deleted_objects": self.deleted_objects,
        }


def reconcile_storage(*, repair: bool = False, grace_s: int | None = None, now=None):
    """Find stored rows whose object is missing and objects no row names; repair if asked.

    Repair quarantines such rows (they stay for the audit trail, out of every listing of stored
    recordings) and deletes orphan objects older than the grace period.
    """
    grace_s = settings.RECONCILE_GRACE_S if grace_s is None else grace_s
    cutoff = (now or timezone.now()) - timedelta(seconds=grace_s)
    report = ReconcileReport()
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
    logger.info("storage reconciled", extra=report.as_dict())
    return report


def _repair(report: ReconcileReport) -> None:
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
