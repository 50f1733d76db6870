"""The orphan window closed: a process killed in the middle of an upload leaves at worst a file
that ``reconcile_storage`` finds at once (not after its hour-long grace), and ``--verify``
catches a stored file whose bytes no longer match its sha256 and quarantines it."""

import random
import subprocess
import sys
import threading
import time
from datetime import timedelta

import httpx
import pytest
from django.conf import settings
from django.core.management import call_command
from django.utils import timezone

from diagnostics.models import Diagnostic
from diagnostics.sweeper import sweep
from media_assets.maintenance import reconcile_storage
from media_assets.models import Recording, RecordingStatus
from tests.conftest import stored_objects
from tests.diagnostics.inference_steps import all_finished, inference_worker, submit, wait_for
from tests.factories import PatientFactory
from tests.faults.live_page import Clinic
from tests.faults.outages import Tally, sign_in
from tests.faults.storage_faults import overwrite, summary
from tests.media_assets.uploading import cough_wav
from tests.processes import ROOT, asgi_server

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def left_behind(media_root) -> set[str]:
    """Recordings' files that no stored recording names (the model's artifact is not one)."""
    stored = set(
        Recording.objects.filter(status=RecordingStatus.STORED).values_list(
            "storage_key", flat=True
        )
    )
    on_disk = {p.relative_to(media_root).as_posix() for p in stored_objects(media_root)}
    return {key for key in on_disk - stored if key.startswith("recordings/")}


def found_by_reconcile() -> set[str]:
    report = reconcile_storage()
    return {key for _, key in report.abandoned_uploads} | set(report.orphan_objects)


def test_an_upload_killed_between_its_file_and_its_row_leaves_a_file_reconcile_finds_at_once(
    process_env, media_root, tmp_path, clinician, site, request
):
    patient = PatientFactory(site=site)
    keys = []
    for seed in (41, 42, 43):
        upload = tmp_path / f"upload-{seed}.wav"
        upload.write_bytes(cough_wav(seed=seed))
        result = subprocess.run(
            [sys.executable, "-m", "tests.faults.kill_mid_upload", str(upload), str(patient.pk),
             str(clinician.pk)],
            cwd=ROOT, env=process_env, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert result.returncode == -9, result.stderr[-3000:]
        keys.append(result.stdout.strip())

    assert left_behind(media_root) == set(keys)
    # Found within the short grace that covers an upload between its two steps, not the hour.
    waited = wait_for(
        lambda: found_by_reconcile() >= set(keys), within=20, what="reconcile finds every file"
    )
    report = reconcile_storage(repair=True)

    summary(request, "orphan files (killed between file and row)", kills=len(keys),
            files_left=len(keys), found=len(report.abandoned_uploads), found_after_s=round(waited, 1),
            removed=report.removed_uploads)  # fmt: skip
    assert sorted(key for _, key in report.abandoned_uploads) == sorted(keys)
    assert report.removed_uploads == len(keys)
    assert stored_objects(media_root) == []
    assert not Recording.objects.exists() and not Diagnostic.objects.exists()


def test_a_process_killed_between_object_and_row_leaves_an_orphan_the_reconcile_job_removes(
    process_env, media_root, tmp_path, request
):
    upload = tmp_path / "upload.wav"
    upload.write_bytes(cough_wav(seed=31))

    result = subprocess.run(
        [sys.executable, "-m", "tests.faults.kill_after_object_written", str(upload)],
        cwd=ROOT, env=process_env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip

    assert result.returncode == -9, result.stderr
    orphan_key = result.stdout.strip()
    assert [p.relative_to(media_root).as_posix() for p in stored_objects(media_root)] == [
        orphan_key
    ]
    assert not Recording.objects.exists()

    report = reconcile_storage(repair=True, grace_s=0)

    summary(request, "orphan object (killed before any row)", kills=1, files_left=1,
            found=len(report.orphan_objects), removed=report.deleted_objects)  # fmt: skip
    assert report.orphan_objects == [orphan_key] and report.deleted_objects == 1
    assert stored_objects(media_root) == []
    assert not Diagnostic.objects.exists()


def upload_until_refused(base_url: str, token: str, patient, tally: Tally, refused: list, stop):
    """Post distinct recordings one after another until the server stops answering."""
    with httpx.Client(base_url=base_url, timeout=30) as http:
        while not stop.is_set():
            try:
                tally.upload("upload", http, token, patient, random.randrange(10**6))
            except httpx.HTTPError:
                refused.append(1)
                return


@pytest.mark.usefixtures("production_model")
def test_a_web_process_killed_mid_upload_leaves_only_files_reconcile_finds_at_once(
    client, process_env, worker_env, media_root, tmp_path, clinician, site, request
):
    patient = PatientFactory(site=site)
    tally, refused = Tally("web SIGKILL mid-upload"), []
    kills = 3
    # Quotas off: this one clinician uploads more in a minute than an hour's quota allows.
    env = {**worker_env, "UPLOAD_QUOTA_USER_PER_HOUR": "0", "UPLOAD_QUOTA_SITE_PER_HOUR": "0"}
    worker = inference_worker(env, tmp_path)  # analyses what was accepted, meanwhile
    request.addfinalizer(worker.stop)
    # The patient's page is open throughout, on a web process of its own that is not killed.
    with Clinic(env, tmp_path, client=client, clinician=clinician, patient=patient,
                tally=tally) as clinic:  # fmt: skip
        for round_ in range(kills):
            server = asgi_server(env, tmp_path / f"round-{round_}")
            token = sign_in(httpx.Client(base_url=server.url, timeout=30), clinician, tally)
            stop = threading.Event()
            clients = [
                threading.Thread(
                    target=upload_until_refused,
                    args=(server.url, token, patient, tally, refused, stop),
                )
                for _ in range(3)
            ]
            for thread in clients:
                thread.start()
            time.sleep(random.uniform(0.8, 2.0))
            server.signal_group(9)  # SIGKILL, uploads in flight
            stop.set()
            for thread in clients:
                thread.join(timeout=30)
            server.proc.wait()

        files = left_behind(media_root)
        pending = set(
            Recording.objects.exclude(status=RecordingStatus.STORED).values_list(
                "storage_key", flat=True
            )
        )
        wait_for(
            lambda: found_by_reconcile() >= files | pending, within=20,
            what="reconcile finds every file and every unfinished upload",
        )  # fmt: skip
        report = reconcile_storage(repair=True)
        # A process killed between the broker's "a message is waiting" mark and the message
        # leaves that round's uploads to the sweeper (diagnostics.inference_queue): run it as
        # the beat would once they have waited INFERENCE_STUCK_QUEUED_S.
        sweep(now=timezone.now() + timedelta(seconds=settings.INFERENCE_STUCK_QUEUED_S + 1))
        wait_for(all_finished(*tally.accepted), within=120, what="every accepted upload analysed",
                 logs=[worker])  # fmt: skip
        clinic.page.wait_until_final(tally.accepted, within=30)

    tally.finish(request, workers=[worker], page=clinic.page, kills=kills, refused=len(refused),
                 files_left=len(files),
                 found=len(report.abandoned_uploads) + len(report.orphan_objects))  # fmt: skip
    assert set(tally.statuses) <= {200, 201, 202}  # sign-in, uploads; nothing else but refusals
    for diagnostic in Diagnostic.objects.filter(pk__in=tally.accepted):
        assert diagnostic.recording.status == RecordingStatus.STORED
        assert Diagnostic.objects.filter(recording=diagnostic.recording).count() == 1
    assert left_behind(media_root) == set()
    assert not Recording.objects.exclude(status=RecordingStatus.STORED).exists()


def test_verify_quarantines_a_stored_file_whose_bytes_no_longer_match(
    media_root, clinician, site, capsys, request
):
    patient = PatientFactory(site=site)
    intact = submit(patient, clinician, seed=51).recording
    damaged = submit(patient, clinician, seed=52).recording
    overwrite(media_root / damaged.storage_key, cough_wav(seed=53))

    call_command("reconcile_storage", "--verify", "--sample", "10", "--rate", "1000000000")
    output = capsys.readouterr().out

    damaged.refresh_from_db()
    intact.refresh_from_db()
    summary(request, "overwritten files (--verify)", checked=2, mismatched=1,
            quarantined=int(damaged.status == RecordingStatus.QUARANTINED))  # fmt: skip
    assert damaged.status == RecordingStatus.QUARANTINED
    assert intact.status == RecordingStatus.STORED
    assert f"content mismatch: recording #{damaged.pk}" in output
    assert '"mismatched_objects": 1' in output and '"verified_objects": 2' in output
