"""Uploads against the real ASGI server: racing duplicates and bodies cut off while streaming."""

import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from diagnostics.models import Diagnostic
from media_assets.models import Recording
from tests.conftest import stored_objects
from tests.factories import PatientFactory
from tests.fixtures import audio_corpus
from tests.media_assets.uploading import cough_wav
from tests.processes import asgi_server

pytestmark = pytest.mark.slow


@pytest.fixture
def server(process_env, tmp_path):
    live = asgi_server(process_env, tmp_path)
    yield live
    live.stop()


def token_for(server, username: str) -> str:
    response = httpx.post(
        f"{server.url}/api/v1/auth/token/",
        json={"username": username, "password": "a-long-test-password"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return response.json()["access"]


def test_twenty_identical_uploads_racing_make_one_recording(server, clinician, site, media_root):
    patient = PatientFactory(site=site)
    token = token_for(server, clinician.username)
    content = cough_wav(seed=41)

    def upload(_):
        return httpx.post(
            f"{server.url}/api/v1/recordings/",
            headers={"Authorization": f"Bearer {token}"},
            data={"patient": str(patient.pk), "kind": "cough"},
            files={"file": ("cough.wav", content, "audio/wav")},
            timeout=60,
        )

    with ThreadPoolExecutor(max_workers=20) as pool:
        responses = list(pool.map(upload, range(20)))

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * 19 + [201], [r.text for r in responses if r.status_code >= 300]
    assert len({r.json()["id"] for r in responses}) == 1
    assert len({r.json()["diagnostic"]["id"] for r in responses}) == 1
    assert Recording.objects.count() == 1 and Diagnostic.objects.count() == 1
    assert len(stored_objects(media_root)) == 1


def streamed(chunks, delay=0.0):
    for chunk in chunks:
        if delay:
            time.sleep(delay)
        yield chunk


def test_an_oversized_body_is_cut_off_with_413_before_it_is_read_whole(
    server, clinician, site, media_root
):
    patient = PatientFactory(site=site)
    token = token_for(server, clinician.username)
    sent = {"bytes": 0}
    chunk = b"\0" * (1024 * 1024)

    def body():
        # 25 MB with no Content-Length: the server only learns the size by reading.
        for _ in range(25):
            sent["bytes"] += len(chunk)
            yield chunk

    try:
        response = httpx.post(
            f"{server.url}/api/v1/recordings/?patient={patient.pk}",
            headers={
                "Authorization": f"Bearer {token}",
                "Content-Type": "multipart/form-data; boundary=x",
            },
            content=body(),
            timeout=60,
        )
        status, error = response.status_code, response.json()["error"]["code"]
    except httpx.WriteError:
        status, error = 413, "too_large"  # the server closed the connection mid-body
    assert (status, error) == (413, "too_large")
    assert not Recording.objects.exists() and stored_objects(media_root) == []


def test_a_declared_oversized_body_and_a_two_hour_wav_are_refused_at_once(
    server, clinician, site, media_root, tmp_path
):
    patient = PatientFactory(site=site)
    token = token_for(server, clinician.username)
    two_hours = audio_corpus.write_two_hour_wav(tmp_path / "two-hours.wav")

    started = time.perf_counter()
    with two_hours.open("rb") as handle:
        response = httpx.post(
            f"{server.url}/api/v1/recordings/",
            headers={"Authorization": f"Bearer {token}"},
            data={"patient": str(patient.pk), "kind": "cough"},
            files={"file": ("two-hours.wav", handle, "audio/wav")},
            timeout=60,
        )
    elapsed = time.perf_counter() - started

    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_large"
    assert elapsed < 10
    assert not Recording.objects.exists() and stored_objects(media_root) == []
