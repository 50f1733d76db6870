"""A recording keeps nothing of the name it was uploaded with but an audio extension: file names
hold whatever the recorder or a person typed, often the patient's name and birth date."""

import importlib

import pytest
from django.apps import apps

from media_assets.models import Recording
from tests.factories import PatientFactory
from tests.media_assets.uploading import cough_wav, post_recording

pytestmark = pytest.mark.django_db

NAMED = "Jane Doe 1961-04-23 cough.WAV"


def test_an_upload_keeps_only_its_extension(client, clinician, site):
    client.force_login(clinician)

    response = post_recording(client, PatientFactory(site=site), cough_wav(seed=9), name=NAMED)

    assert response.status_code == 201
    assert Recording.objects.get(pk=response.json()["id"]).original_name == ".wav"
    assert "Jane" not in response.content.decode()


def test_a_direct_upload_keeps_only_its_extension_and_a_made_up_one_keeps_nothing(api, patient):
    declared = {"patient": patient.pk, "kind": "cough", "size_bytes": 1000, "sha256": "a" * 64}

    flac = api.post("/api/v1/uploads/", {**declared, "filename": "Doe, Jane (1961).flac"})
    odd = api.post(
        "/api/v1/uploads/", {**declared, "sha256": "b" * 64, "filename": "cough.Jane_Doe_1961"}
    )

    assert flac.status_code == odd.status_code == 201
    names = dict(Recording.objects.values_list("storage_key", "original_name"))
    assert sorted(names.values()) == ["", ".flac"]
    assert all("Jane" not in key for key in names)


def test_names_stored_before_keep_only_their_extension(patient):
    migration = importlib.import_module("media_assets.migrations.0005_original_name_extension_only")
    for index, name in enumerate([NAMED, "plain", NAMED, "C:\\Users\\Jane\\Doe.mp3"]):
        Recording.objects.create(
            patient=patient, kind="cough", storage_key=f"recordings/t/{index}.wav",
            original_name=name,
        )  # fmt: skip

    migration.keep_only_extensions(apps, None)

    assert sorted(Recording.objects.values_list("original_name", flat=True)) == [
        "", ".mp3", ".wav", ".wav",
    ]  # fmt: skip
