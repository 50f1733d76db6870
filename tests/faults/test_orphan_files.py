"""The orphan window closed: a process killed in the middle of an upload leaves at worst a file
that ``reconcile_storage`` finds at once (not after its hour-long grace), and ``--verify``
catches a stored file whose bytes no longer match its sha256 and quarantines it."""

import random
import subprocess
import sys
import threading
import time

import httpx
import pytest
from django.core.management import call_command

from diagnostics.models import Diagnostic
from media_assets.maintenance import reconcile_storage
from media_assets.models import Recording, RecordingStatus
from tests.conftest import stored_objects
from tests.diagnostics.inference_steps import submit, wait_for
from tests.factories import PatientFactory
from tests.faults.storage_faults import overwrite, summary
from tests.media_assets.uploading import cough_wav
from tests.processes import ROOT, asgi_server

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

PASSWORD = "a-long-test-password"  # tests.factories.UserFactory's


def left_behind(media_root) -> set[str]:
    """Files that no stored recording names."""
    stored = set(
        Recording.objects.filter(status=RecordingStatus.STORED).values_list(
            "storage_key", flat=True
        )
    )
    on_disk = {p.relative_to(media_root).as_posix() for p in stored_objects(media_root)}
    return on_disk - stored


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


def upload_until_refused(base_url: str, token: str, patient_id: int, outcomes: list, stop):
    """Post distinct recordings one after another until the server stops answering."""
    with httpx.Client(timeout=30) as http:
        while not stop.is_set():
            seed = random.randrange(10**6)
            try:
                response = http.post(
                    f"{base_url}/api/v1/recordings/",
                    headers={"Authorization": f"Bearer {token}"},
                    data={"patient": str(patient_id), "kind": "cough"},
                    files={"file": (f"c-{seed}.wav", cough_wav(seed=seed), "audio/wav")},
                )
            except httpx.HTTPError:
                outcomes.append(("refused", None))
                return
            outcomes.append((response.status_code, response.json()))


def test_a_web_process_killed_mid_upload_leaves_only_files_reconcile_finds_at_once(
    process_env, media_root, tmp_path, clinician, site, request
):
    patient = PatientFactory(site=site)
    outcomes: list = []
    kills = 3
    for round_ in range(kills):
        # Quotas off: this one clinician uploads more in a minute than an hour's quota allows.
        env = {**process_env, "UPLOAD_QUOTA_USER_PER_HOUR": "0", "UPLOAD_QUOTA_SITE_PER_HOUR": "0"}
        server = asgi_server(env, tmp_path / f"round-{round_}")
        token = httpx.post(
            f"{server.url}/api/v1/auth/token/",
            json={"username": clinician.username, "password": PASSWORD}, timeout=30,
        ).json()["access"]  # fmt: skip
        stop = threading.Event()
        clients = [
            threading.Thread(
                target=upload_until_refused, args=(server.url, token, patient.pk, outcomes, stop)
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

    accepted = [body for status, body in outcomes if status == 201]
    errors = [status for status, _ in outcomes if status not in (201, "refused")]
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

    summary(request, "orphan files (web SIGKILL mid-upload)", kills=kills, accepted=len(accepted),
            errors_5xx=sum(1 for s in errors if s >= 500), files_left=len(files),
            found=len(report.abandoned_uploads) + len(report.orphan_objects))  # fmt: skip
    assert errors == []
    assert accepted, "no upload was accepted before the kills"
    for body in accepted:
        recording = Recording.objects.get(pk=body["id"])
        assert recording.status == RecordingStatus.STORED
        assert Diagnostic.objects.filter(recording=recording).count() == 1
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
