"""Serving recordings: only to users of the patient's site, audited, seekable with Range."""

import pytest

from portal.core.models import AuditEvent
from tests.factories import PatientFactory
from tests.media_assets.uploading import cough_wav, post_recording

pytestmark = pytest.mark.django_db


@pytest.fixture
def recording_id(client, clinician, site):
    client.force_login(clinician)
    response = post_recording(client, PatientFactory(site=site), cough_wav(seed=61))
    return response.json()["id"]


def body(response) -> bytes:
    return b"".join(response.streaming_content)


def test_the_whole_file_is_served_privately_and_the_listening_is_audited(client, recording_id):
    response = client.get(f"/media/recordings/{recording_id}/audio")

    assert response.status_code == 200
    assert body(response) == cough_wav(seed=61)
    assert response["Accept-Ranges"] == "bytes"
    assert response["Cache-Control"] == "private, no-store"
    event = AuditEvent.objects.get(action="recording.audio_viewed")
    assert event.object_id == str(recording_id) and event.request_id == response["X-Request-ID"]


def test_a_range_request_gets_206_with_just_those_bytes(client, recording_id):
    content = cough_wav(seed=61)

    response = client.get(
        f"/media/recordings/{recording_id}/audio", headers={"Range": "bytes=100-199"}
    )
    suffix = client.get(f"/media/recordings/{recording_id}/audio", headers={"Range": "bytes=-10"})

    assert response.status_code == 206
    assert response["Content-Range"] == f"bytes 100-199/{len(content)}"
    assert body(response) == content[100:200]
    assert body(suffix) == content[-10:]


def test_an_unsatisfiable_range_is_416(client, recording_id):
    response = client.get(
        f"/media/recordings/{recording_id}/audio", headers={"Range": "bytes=99999999-"}
    )

    assert response.status_code == 416


def test_a_clinician_of_another_site_gets_404_and_anonymous_users_the_login(
    client, recording_id, other_clinician
):
    client.logout()
    anonymous = client.get(f"/media/recordings/{recording_id}/audio")
    client.force_login(other_clinician)
    other = client.get(f"/media/recordings/{recording_id}/audio")

    assert anonymous.status_code == 302
    assert anonymous["Location"] == (
        f"/accounts/login/?next=/media/recordings/{recording_id}/audio"
    )
    assert other.status_code == 404
