"""Direct uploads with filesystem storage: open, PUT the bytes to the app, complete."""

import hashlib
import json

import pytest

from diagnostics.models import Diagnostic
from media_assets.models import Recording, RecordingStatus
from tests.conftest import stored_objects
from tests.factories import PatientFactory
from tests.fixtures import audio_corpus
from tests.media_assets.uploading import cough_wav

pytestmark = pytest.mark.django_db


def open_upload(api, patient, content: bytes, **overrides):
    body = {
        "patient": patient.pk,
        "kind": "cough",
        "size_bytes": len(content),
        "sha256": hashlib.sha256(content).hexdigest(),
        "filename": "cough.wav",
        "content_type": "audio/wav",
        **overrides,
    }
    return api.post("/api/v1/uploads/", json.dumps(body), content_type="application/json")


def put_content(api, url: str, content: bytes):
    return api.generic("PUT", url, content, content_type="application/octet-stream")


def test_the_whole_direct_upload_flow_stores_the_recording_and_queues_a_diagnostic(
    api, patient, media_root
):
    content = cough_wav(seed=5)
    opened = open_upload(api, patient, content)
    assert opened.status_code == 201, opened.content
    target = opened.json()
    assert target["status"] == "pending"
    assert target["upload"]["method"] == "PUT"

    assert put_content(api, target["upload"]["url"], content).status_code == 204
    completed = api.post(target["complete_url"], {"symptoms": '{"fever": true}'})

    assert completed.status_code == 201, completed.content
    body = completed.json()
    assert body["status"] == "stored" and body["diagnostic"]["status"] == "queued"
    recording = Recording.objects.get()
    assert recording.status == RecordingStatus.STORED and recording.duration_s > 2.5
    assert Diagnostic.objects.get().symptoms == {"fever": True}
    assert [p.relative_to(media_root).as_posix() for p in stored_objects(media_root)] == [
        recording.storage_key
    ]


def test_completing_twice_answers_with_the_same_diagnostic(api, patient):
    content = cough_wav(seed=6)
    target = open_upload(api, patient, content).json()
    put_content(api, target["upload"]["url"], content)

    first = api.post(target["complete_url"])
    second = api.post(target["complete_url"])

    assert first.status_code == 201 and second.status_code == 201
    assert first.json()["diagnostic"] == second.json()["diagnostic"]
    assert Diagnostic.objects.count() == 1


def test_completing_before_the_bytes_arrived_is_a_409(api, patient):
    target = open_upload(api, patient, cough_wav()).json()

    response = api.post(target["complete_url"])

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "upload_incomplete"
    assert Recording.objects.get().status == RecordingStatus.PENDING


def test_bytes_that_do_not_match_the_declared_hash_are_refused_and_can_be_sent_again(
    api, patient, media_root
):
    content = cough_wav(seed=7)
    target = open_upload(api, patient, content).json()
    tampered = bytearray(content)
    tampered[-1] ^= 0xFF
    put_content(api, target["upload"]["url"], bytes(tampered))

    refused = api.post(target["complete_url"])
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "hash_mismatch"
    assert stored_objects(media_root) == []

    put_content(api, target["upload"]["url"], content)
    assert api.post(target["complete_url"]).status_code == 201


def test_more_bytes_than_declared_are_refused_while_streaming(api, patient, media_root):
    content = cough_wav(seed=8)
    target = open_upload(api, patient, content).json()

    response = put_content(api, target["upload"]["url"], content + b"extra")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "size_mismatch"
    assert stored_objects(media_root) == []


def test_a_declared_size_over_the_limit_is_413_before_any_byte_is_sent(api, patient, settings):
    response = open_upload(api, patient, b"x", size_bytes=settings.RECORDING_MAX_BYTES + 1)

    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_large"
    assert not Recording.objects.exists()


def test_an_uploaded_file_that_is_not_audio_is_rejected_and_its_object_removed(
    api, patient, media_root
):
    content = audio_corpus.html_page()
    target = open_upload(api, patient, content).json()
    put_content(api, target["upload"]["url"], content)

    response = api.post(target["complete_url"])

    assert response.status_code == 415
    assert response.json()["error"]["code"] == "not_audio"
    assert Recording.objects.get().status == RecordingStatus.REJECTED
    assert not Diagnostic.objects.exists()
    assert stored_objects(media_root) == []


def test_another_sites_upload_is_a_404(api, other_site):
    elsewhere = PatientFactory(site=other_site)
    pending = Recording.objects.create(
        patient=elsewhere, kind="cough", storage_key="recordings/x/2026/01/a.wav", size_bytes=10
    )

    assert api.post(f"/api/v1/uploads/{pending.pk}/complete/").status_code == 404
    assert put_content(api, f"/api/v1/uploads/{pending.pk}/content", b"x").status_code == 404
