"""At ``INFERENCE_QUEUE_HARD_LIMIT`` waiting diagnostics new work is refused before anything is
stored, but nothing already accepted is lost: the same bytes again are answered with their first
diagnostic (a client that lost the answer), and a direct upload refused at completion stays
pending, to be completed again once there is room."""

import pytest

from diagnostics.models import Diagnostic, DiagnosticStatus
from media_assets.models import Recording, RecordingStatus
from tests.factories_clinical import DiagnosticFactory
from tests.media_assets.test_direct_upload import open_upload, put_content
from tests.media_assets.uploading import cough_wav

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def full_queue(settings, patient, empty_broker):
    settings.INFERENCE_QUEUE_HARD_LIMIT = 2
    return [DiagnosticFactory(recording__patient=patient) for _ in range(2)]


def upload(api, patient, seed: int):
    from django.core.files.uploadedfile import SimpleUploadedFile

    wav = SimpleUploadedFile(f"c{seed}.wav", cough_wav(seed=seed), content_type="audio/wav")
    return api.post("/api/v1/recordings/", {"patient": patient.pk, "kind": "cough", "file": wav})


def test_the_same_bytes_again_are_answered_even_when_the_queue_is_full(
    api, patient, settings, empty_broker
):
    settings.INFERENCE_QUEUE_HARD_LIMIT = 1
    first = upload(api, patient, seed=700)
    assert first.status_code == 201

    again = upload(api, patient, seed=700)
    refused = upload(api, patient, seed=701)

    assert again.status_code == 200 and again.json()["duplicate"]
    assert again.json()["diagnostic"]["id"] == first.json()["diagnostic"]["id"]
    assert refused.status_code == 503 and refused.json()["error"]["code"] == "queue_full"
    assert refused.json()["error"]["retry_after"] == int(refused["Retry-After"])


def test_a_direct_upload_refused_at_completion_stays_pending_until_there_is_room(
    api, patient, full_queue
):
    content = cough_wav(seed=702)
    target = open_upload(api, patient, content).json()
    assert put_content(api, target["upload"]["url"], content).status_code == 204

    refused = api.post(target["complete_url"], {})
    assert refused.status_code == 503 and refused.json()["error"]["code"] == "queue_full"
    assert Recording.objects.get(pk=target["id"]).status == RecordingStatus.PENDING

    Diagnostic.objects.filter(pk=full_queue[0].pk).update(status=DiagnosticStatus.FAILED)
    completed = api.post(target["complete_url"], {"urgent": "true"})

    assert completed.status_code == 201, completed.content
    assert completed.json()["diagnostic"]["urgent"] is True
    assert completed.json()["diagnostic"]["queue_position"] == 1
