"""The object store's circuit breaker on the upload path, against an S3-compatible server (moto) on
loopback that the test stops and starts again: once the store has failed enough uploads, the next
ones are refused at once (503 ``storage_unavailable`` with ``Retry-After``) and leave nothing
behind; ``/readyz`` and the metrics say the breaker is open; after the server returns and the
cool-down is over, one probe goes through and closes the breaker."""

import sys
import time

import boto3
import pytest
from botocore.config import Config as BotoConfig
from prometheus_client import REGISTRY

from media_assets.models import Recording, RecordingStatus
from tests.factories import PatientFactory
from tests.media_assets.uploading import cough_wav, post_recording
from tests.processes import LiveProcess, free_port, http_status

BUCKET = "portal-breaker"
COOLDOWN_S = 1.0


class S3Server:
    """moto's S3 server on a fixed loopback port, which the test can stop and start again (it
    keeps nothing across a restart: the bucket is made again, as an emptied store would be)."""

    def __init__(self, log_dir) -> None:
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.process = LiveProcess(
            "moto",
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            log_dir=log_dir,
        )  # fmt: skip

    def start(self) -> None:
        self.process.start(
            ready=lambda: http_status(f"{self.endpoint}/moto-api/", 1) is not None, timeout=30
        )
        self.client().create_bucket(Bucket=BUCKET)

    def stop(self) -> None:
        self.process.stop()

    def client(self):
        return boto3.client(
            "s3", endpoint_url=self.endpoint, region_name="us-east-1",
            aws_access_key_id="testing", aws_secret_access_key="testing",
        )  # fmt: skip

    def keys(self) -> set[str]:
        listed = self.client().list_objects_v2(Bucket=BUCKET).get("Contents", [])
        return {item["Key"] for item in listed}


@pytest.fixture
def s3_server(tmp_path, settings):
    server = S3Server(tmp_path)
    server.start()
    settings.STORAGE_BACKEND = "s3"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": BUCKET, "endpoint_url": server.endpoint, "region_name": "us-east-1",
                "addressing_style": "path", "signature_version": "s3v4", "default_acl": None,
                "file_overwrite": False, "access_key": "testing", "secret_key": "testing",
                # As production configures the client (portal/settings.py), with shorter timeouts.
                "client_config": BotoConfig(
                    connect_timeout=2, read_timeout=2, retries={"max_attempts": 3, "mode": "standard"}
                ),
            },
        },
    }  # fmt: skip
    settings.STORAGE_BREAKER_FAILURES = 2
    settings.STORAGE_BREAKER_WINDOW_S = 60
    settings.STORAGE_BREAKER_COOLDOWN_S = COOLDOWN_S
    yield server
    server.stop()


def metric(name: str) -> float:
    return REGISTRY.get_sample_value(name) or 0.0


def timed_upload(client, patient, seed: int):
    started = time.monotonic()
    response = post_recording(client, patient, cough_wav(seed=seed))
    return response, time.monotonic() - started


def no_row_without_its_object(server: S3Server) -> bool:
    """Every recording row is a stored one whose object is in the bucket, and nothing else is."""
    rows = list(Recording.objects.values_list("status", "storage_key"))
    return (
        all(status == RecordingStatus.STORED for status, _ in rows)
        and {key for _, key in rows} == server.keys()
    )


@pytest.mark.django_db
def test_uploads_fail_fast_while_the_store_is_down_and_a_probe_closes_the_breaker_once_it_is_back(
    client, clinician, site, s3_server
):
    client.force_login(clinician)
    patient = PatientFactory(site=site)
    rejected_before = metric("portal_storage_breaker_rejected_total")
    opened_before = metric("portal_storage_breaker_opened_total")
    assert post_recording(client, patient, cough_wav(seed=1)).status_code == 201

    s3_server.stop()
    failing = [timed_upload(client, patient, seed=2 + i) for i in range(2)]
    refused, refused_s = timed_upload(client, patient, seed=10)
    ready = client.get("/readyz")
    state_while_open = metric("portal_storage_breaker_state")

    for response, _ in failing:
        assert response.status_code == 503
        assert response.json()["error"]["code"] == "storage_unavailable"
    assert refused.status_code == 503
    assert refused.json()["error"]["code"] == "storage_unavailable"
    assert 1 <= int(refused["Retry-After"]) <= COOLDOWN_S
    assert refused_s < 0.5, f"refused after {refused_s:.2f} s"
    assert ready.status_code == 503
    assert ready.json()["checks"]["storage"]["breaker"] == "open"
    assert "storage" in ready.json()["failing"]
    assert state_while_open == 2
    assert metric("portal_storage_breaker_opened_total") == opened_before + 1
    # The upload and the readiness check were refused without touching the store.
    assert metric("portal_storage_breaker_rejected_total") >= rejected_before + 2

    s3_server.start()
    time.sleep(COOLDOWN_S)
    probe = post_recording(client, patient, cough_wav(seed=11))

    assert probe.status_code == 201, probe.content
    assert metric("portal_storage_breaker_state") == 0
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"]["storage"]["breaker"] == "closed"
    assert Recording.objects.filter(status=RecordingStatus.STORED).count() == 2
    # The first recording's object went with the old server; the one stored since is there.
    assert s3_server.keys() == {Recording.objects.get(sha256=probe.json()["sha256"]).storage_key}


@pytest.mark.django_db
def test_nothing_is_half_written_while_the_store_is_down(client, clinician, site, s3_server):
    client.force_login(clinician)
    patient = PatientFactory(site=site)
    s3_server.stop()

    answers = [post_recording(client, patient, cough_wav(seed=20 + i)) for i in range(4)]

    assert [a.status_code for a in answers] == [503] * 4
    assert not Recording.objects.exists()
    s3_server.start()
    assert no_row_without_its_object(s3_server)


@pytest.mark.django_db
def test_readiness_is_the_probe_that_closes_the_breaker_when_no_upload_comes(
    client, clinician, site, s3_server, settings
):
    client.force_login(clinician)
    patient = PatientFactory(site=site)
    settings.STORAGE_BREAKER_COOLDOWN_S = 60  # until the server is back
    s3_server.stop()
    for seed in (30, 31):
        post_recording(client, patient, cough_wav(seed=seed))
    assert client.get("/readyz").json()["checks"]["storage"]["breaker"] == "open"

    s3_server.start()
    still_cooling = client.get("/readyz")
    settings.STORAGE_BREAKER_COOLDOWN_S = COOLDOWN_S
    time.sleep(COOLDOWN_S)
    probed = client.get("/readyz")

    assert still_cooling.status_code == 503
    assert probed.status_code == 200, probed.json()
    assert probed.json()["checks"]["storage"]["breaker"] == "closed"
    assert post_recording(client, patient, cough_wav(seed=32)).status_code == 201
    assert no_row_without_its_object(s3_server)
