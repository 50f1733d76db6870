"""A recording shorter than its kind needs (the page's recorder's minimums: a cough 2 s, breathing
10 s, speech 5 s) is refused by the server too, on the file upload and the direct upload alike,
with ``recording_too_short`` and a sentence that says how long it must be; nothing is left."""

import hashlib
import json

import pytest

from media_assets.models import MIN_SECONDS_BY_KIND, Recording, RecordingKind, RecordingStatus
from tests.fixtures import audio_corpus
from tests.media_assets.uploading import nothing_left_behind, post_recording

pytestmark = pytest.mark.django_db


def breaths(seconds: float) -> bytes:
    return audio_corpus.pcm_wav(audio_corpus.breath_like(seconds=seconds), 16000)


def test_the_recorder_and_the_server_share_one_table_of_minimums(client, clinician, patient):
    client.force_login(clinician)

    page = client.get(f"/patients/{patient.pk}/")

    assert page.status_code == 200
    for kind in RecordingKind:
        assert f'data-min-seconds="{MIN_SECONDS_BY_KIND[kind]}"' in page.content.decode()


@pytest.mark.parametrize(("kind", "seconds"), [("breath", 6.0), ("speech", 3.0), ("cough", 1.2)])
def test_a_recording_shorter_than_its_kind_needs_is_refused(
    api, patient, media_root, kind, seconds
):
    response = post_recording(api, patient, breaths(seconds), kind=kind, name="take.wav")

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "recording_too_short"
    assert f"at least {MIN_SECONDS_BY_KIND[kind]} seconds" in error["message"]
    assert f"{seconds:.1f}" in error["message"]
    assert nothing_left_behind(media_root)


def test_the_same_length_is_enough_for_another_kind(api, patient):
    cough = post_recording(api, patient, breaths(6.0), kind="cough")
    breath = post_recording(api, patient, breaths(10.0), kind="breath")

    assert cough.status_code == 201, cough.content
    assert breath.status_code == 201, breath.content


def test_a_direct_upload_shorter_than_its_kind_needs_is_rejected_at_completion(
    api, patient, media_root
):
    content = breaths(6.0)
    opened = api.post(
        "/api/v1/uploads/",
        json.dumps({
            "patient": patient.pk, "kind": "breath", "size_bytes": len(content),
            "sha256": hashlib.sha256(content).hexdigest(), "filename": "b.wav",
            "content_type": "audio/wav",
        }),
        content_type="application/json",
    ).json()  # fmt: skip
    api.put(opened["upload"]["url"], content, content_type="application/octet-stream")

    completed = api.post(opened["complete_url"])

    assert completed.status_code == 400
    assert completed.json()["error"]["code"] == "recording_too_short"
    recording = Recording.objects.get()
    assert recording.status == RecordingStatus.REJECTED
    assert recording.quality == {"rejected": "recording_too_short"}
    assert not list(media_root.rglob("*.*"))
