"""The same bytes for the same patient are one recording with one diagnostic."""

import pytest

from diagnostics.models import Diagnostic
from media_assets.models import Recording
from tests.conftest import stored_objects
from tests.factories import PatientFactory
from tests.media_assets.uploading import cough_wav, post_recording

pytestmark = pytest.mark.django_db


def test_uploading_the_same_bytes_again_returns_the_first_recording_with_200(
    client, clinician, site, media_root
):
    client.force_login(clinician)
    patient = PatientFactory(site=site)
    content = cough_wav(seed=21)

    first = post_recording(client, patient, content)
    again = post_recording(client, patient, content, name="renamed.wav")

    assert first.status_code == 201 and again.status_code == 200
    assert again.json()["duplicate"] is True and first.json()["duplicate"] is False
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["diagnostic"] == first.json()["diagnostic"]
    assert Recording.objects.count() == 1 and Diagnostic.objects.count() == 1
    assert len(stored_objects(media_root)) == 1


def test_the_same_bytes_for_another_patient_are_a_new_recording(client, clinician, site):
    client.force_login(clinician)
    content = cough_wav(seed=22)

    first = post_recording(client, PatientFactory(site=site), content)
    second = post_recording(client, PatientFactory(site=site), content)

    assert (first.status_code, second.status_code) == (201, 201)
    assert Recording.objects.count() == 2
