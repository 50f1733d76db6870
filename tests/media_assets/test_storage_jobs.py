"""cleanup_pending_uploads and reconcile_storage: they remove only debris, and twice is harmless."""

import os
import time
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.utils import timezone

from media_assets.maintenance import cleanup_pending_uploads, reconcile_storage
from media_assets.models import Recording, RecordingStatus
from tests.conftest import stored_objects
from tests.factories import PatientFactory

pytestmark = pytest.mark.django_db


def pending(patient, key, age: timedelta) -> Recording:
    default_storage.save(key, ContentFile(b"partial bytes"))
    return Recording.objects.create(
        patient=patient, kind="cough", storage_key=key, size_bytes=100,
        created_at=timezone.now() - age,
    )  # fmt: skip


def stored(patient, key, *, with_object=True, age=timedelta(hours=3)) -> Recording:
    if with_object:
        default_storage.save(key, ContentFile(b"audio"))
    return Recording.objects.create(
        patient=patient, kind="cough", status=RecordingStatus.STORED, storage_key=key,
        size_bytes=5, sha256=key[-64:].rjust(64, "0"), stored_at=timezone.now() - age,
    )  # fmt: skip


def age_object(media_root, key: str, seconds: int) -> None:
    path = media_root / key
    old = time.time() - seconds
    os.utime(path, (old, old))


def test_stale_pending_uploads_lose_object_and_row_and_fresh_ones_stay(media_root):
    patient = PatientFactory()
    stale = pending(patient, "recordings/a/2026/01/stale.wav", timedelta(hours=25))
    fresh = pending(patient, "recordings/a/2026/01/fresh.wav", timedelta(hours=1))

    assert cleanup_pending_uploads() == 1
    assert cleanup_pending_uploads() == 0, "a second run finds nothing more"
    assert list(Recording.objects.values_list("pk", flat=True)) == [fresh.pk]
    assert [p.name for p in stored_objects(media_root)] == ["fresh.wav"]
    assert not Recording.objects.filter(pk=stale.pk).exists()


def test_reconcile_reports_missing_objects_and_orphans_without_changing_anything(media_root):
    patient = PatientFactory()
    intact = stored(patient, "recordings/a/2026/01/" + "1" * 64 + ".wav")
    lost = stored(patient, "recordings/a/2026/01/" + "2" * 64 + ".wav", with_object=False)
    default_storage.save("recordings/a/2026/01/orphan.wav", ContentFile(b"x"))
    age_object(media_root, "recordings/a/2026/01/orphan.wav", 7200)

    report = reconcile_storage(grace_s=3600)

    assert report.missing_objects == [lost.pk]
    assert report.orphan_objects == ["recordings/a/2026/01/orphan.wav"]
    assert Recording.objects.get(pk=lost.pk).status == RecordingStatus.STORED
    assert len(stored_objects(media_root)) == 2
    assert Recording.objects.get(pk=intact.pk).status == RecordingStatus.STORED


def test_reconcile_repair_quarantines_rows_and_deletes_old_orphans_only(media_root):
    patient = PatientFactory()
    lost = stored(patient, "recordings/a/2026/01/" + "3" * 64 + ".wav", with_object=False)
    default_storage.save("recordings/a/2026/01/old-orphan.wav", ContentFile(b"x"))
    age_object(media_root, "recordings/a/2026/01/old-orphan.wav", 7200)
    default_storage.save("recordings/a/2026/01/in-flight.wav", ContentFile(b"x"))

    call_command("reconcile_storage", "--repair", "--grace", "3600")
    second = reconcile_storage(repair=True, grace_s=3600)

    assert Recording.objects.get(pk=lost.pk).status == RecordingStatus.QUARANTINED
    assert [p.name for p in stored_objects(media_root)] == ["in-flight.wav"]
    assert second.as_dict()["missing_objects"] == 0 and second.as_dict()["orphan_objects"] == 0
