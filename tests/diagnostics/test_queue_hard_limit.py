"""At ``INFERENCE_QUEUE_HARD_LIMIT`` waiting diagnostics new work is refused before anything is
stored or decoded, and before the hourly upload quotas are charged, so a browser that keeps
retrying through a surge does not use up its clinician's quota. Nothing already accepted is lost:
a direct upload refused at completion stays pending, to be completed again once there is room."""

import pytest

from diagnostics.models import Diagnostic, DiagnosticStatus
from media_assets.models import Recording, RecordingStatus
from tests.factories_clinical import DiagnosticFactory
from tests.media_assets.test_direct_upload import open_upload, put_content
from tests.media_assets.uploading import cough_wav

pytestmark = pytest.mark.django_db(transaction=True)


def upload(api, patient, seed: int):
    from django.core.files.uploadedfile import SimpleUploadedFile

    wav = SimpleUploadedFile(f"c{seed}.wav", cough_wav(seed=seed), content_type="audio/wav")
    return api.post("/api/v1/recordings/", {"patient": patient.pk, "kind": "cough", "file": wav})


def test_refused_uploads_cost_no_upload_quota(api, patient, settings, empty_broker):
    settings.INFERENCE_QUEUE_HARD_LIMIT = 1
    settings.UPLOAD_QUOTA_USER_PER_HOUR = 2
    assert upload(api, patient, seed=700).status_code == 201

    refused = [upload(api, patient, seed=701) for _ in range(3)]
    Diagnostic.objects.update(status=DiagnosticStatus.FAILED)  # the queue drains
    accepted = upload(api, patient, seed=701)

    assert [r.status_code for r in refused] == [503, 503, 503]
    assert refused[0].json()["error"]["code"] == "queue_full"
    assert refused[0].json()["error"]["retry_after"] == int(refused[0]["Retry-After"])
    assert accepted.status_code == 201, accepted.content  # the second of two allowed this hour


def test_a_direct_upload_refused_at_completion_stays_pending_until_there_is_room(
    api, patient, settings, empty_broker
):
    settings.INFERENCE_QUEUE_HARD_LIMIT = 2
    content = cough_wav(seed=702)
    target = open_upload(api, patient, content).json()
    assert put_content(api, target["upload"]["url"], content).status_code == 204
    full_queue = [DiagnosticFactory(recording__patient=patient) for _ in range(2)]

    refused = api.post(target["complete_url"], {})
    assert open_upload(api, patient, cough_wav(seed=703)).status_code == 503
    assert refused.status_code == 503 and refused.json()["error"]["code"] == "queue_full"
    assert Recording.objects.get(pk=target["id"]).status == RecordingStatus.PENDING

    Diagnostic.objects.filter(pk=full_queue[0].pk).update(status=DiagnosticStatus.FAILED)
    completed = api.post(target["complete_url"], {"urgent": "true"})

    assert completed.status_code == 201, completed.content
    assert completed.json()["diagnostic"]["urgent"] is True
    assert completed.json()["diagnostic"]["queue_position"] == 1
