"""Recordings on S3, against an S3-compatible server (moto) started on loopback by the test."""

import hashlib
import json
import sys

import boto3
import httpx
import pytest

from media_assets.models import Recording, RecordingStatus
from tests.factories import PatientFactory
from tests.media_assets.uploading import cough_wav, post_recording
from tests.processes import LiveProcess, free_port, http_status

BUCKET = "portal-recordings"
CREDENTIALS = {"access_key": "testing", "secret_key": "testing"}


@pytest.fixture(scope="module")
def s3_endpoint(tmp_path_factory):
    port = free_port()
    server = LiveProcess(
        "moto",
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        log_dir=tmp_path_factory.mktemp("moto"),
    )
    endpoint = f"http://127.0.0.1:{port}"
    server.start(ready=lambda: http_status(f"{endpoint}/moto-api/") is not None, timeout=30)
    yield endpoint
    server.stop()


@pytest.fixture
def s3(settings, s3_endpoint):
    client = boto3.client(
        "s3", endpoint_url=s3_endpoint, region_name="us-east-1",
        aws_access_key_id="testing", aws_secret_access_key="testing",
    )  # fmt: skip
    client.create_bucket(Bucket=BUCKET)
    settings.STORAGE_BACKEND = "s3"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": BUCKET, "endpoint_url": s3_endpoint, "region_name": "us-east-1",
                "addressing_style": "path", "signature_version": "s3v4", "default_acl": None,
                "file_overwrite": False, "querystring_expire": 300, **CREDENTIALS,
            },
        },
    }  # fmt: skip
    yield client
    for item in client.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        client.delete_object(Bucket=BUCKET, Key=item["Key"])
    client.delete_bucket(Bucket=BUCKET)


def bucket_keys(client) -> list[str]:
    return [item["Key"] for item in client.list_objects_v2(Bucket=BUCKET).get("Contents", [])]


@pytest.mark.django_db
def test_direct_upload_to_s3_with_a_real_presigned_put_then_complete(client, clinician, site, s3):
    client.force_login(clinician)
    patient = PatientFactory(site=site)
    content = cough_wav(seed=51)
    opened = client.post(
        "/api/v1/uploads/",
        json.dumps({
            "patient": patient.pk, "kind": "cough", "size_bytes": len(content),
            "sha256": hashlib.sha256(content).hexdigest(), "content_type": "audio/wav",
        }),
        content_type="application/json",
    )  # fmt: skip
    target = opened.json()["upload"]
    assert target["url"].startswith("http://127.0.0.1:")

    put = httpx.put(target["url"], content=content, headers=target["headers"], timeout=30)
    assert put.status_code == 200, put.text
    completed = client.post(opened.json()["complete_url"])

    assert completed.status_code == 201, completed.content
    recording = Recording.objects.get()
    assert recording.status == RecordingStatus.STORED
    assert bucket_keys(s3) == [recording.storage_key]


@pytest.mark.django_db
def test_complete_refuses_an_s3_object_whose_bytes_differ_from_the_declared_hash(
    client, clinician, site, s3
):
    client.force_login(clinician)
    content = cough_wav(seed=52)
    opened = client.post(
        "/api/v1/uploads/",
        json.dumps({
            "patient": PatientFactory(site=site).pk, "kind": "cough", "size_bytes": len(content),
            "sha256": hashlib.sha256(b"something else").hexdigest(), "content_type": "audio/wav",
        }),
        content_type="application/json",
    )  # fmt: skip
    target = opened.json()["upload"]
    httpx.put(target["url"], content=content, headers=target["headers"], timeout=30)

    response = client.post(opened.json()["complete_url"])

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "hash_mismatch"
    assert bucket_keys(s3) == []


@pytest.mark.django_db
def test_app_upload_stores_on_s3_and_audio_is_a_short_lived_presigned_get(
    client, clinician, site, s3
):
    client.force_login(clinician)
    content = cough_wav(seed=53)

    created = post_recording(client, PatientFactory(site=site), content)
    assert created.status_code == 201
    audio = client.get(f"/media/recordings/{created.json()['id']}/audio")

    assert audio.status_code == 302
    location = audio["Location"]
    assert "X-Amz-Expires=300" in location and "X-Amz-Signature" in location
    assert httpx.get(location, timeout=30).content == content


@pytest.mark.django_db
def test_readiness_checks_the_bucket(client, s3):
    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json()["checks"]["storage"]["ok"] is True
