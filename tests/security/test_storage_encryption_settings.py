"""Encryption at rest is not optional in production: S3 needs a KMS key id (SSE-KMS) or an
explicit opt-out, local storage needs a key ring, and a malformed key ring stops the process
without printing key material; on the embedded default a key ring is generated once into var/."""

import base64
import os
import subprocess
import sys

import pytest

from tests.processes import ROOT, production_env

KEY = base64.b64encode(b"\x07" * 32).decode()
PROBE = (
    "import django; django.setup(); from django.conf import settings; "
    "print(settings.STORAGES['default']['BACKEND'])"
)


def start(env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True
    )


@pytest.fixture
def production(tmp_path):
    env = production_env(tmp_path / "var")
    env.pop("STORAGE_ENCRYPTION_KEYS", None)
    env.pop("AWS_S3_KMS_KEY_ID", None)
    return env


S3 = {"STORAGE_BACKEND": "s3", "AWS_STORAGE_BUCKET_NAME": "recordings"}


def test_production_on_s3_refuses_to_start_without_a_kms_key(production):
    result = start({**production, **S3})

    assert result.returncode != 0
    assert "AWS_S3_KMS_KEY_ID must be set when DJANGO_ENV=production" in result.stderr


@pytest.mark.parametrize("choice", [{"AWS_S3_KMS_KEY_ID": "alias/portal"},
                                    {"AWS_S3_KMS_OPT_OUT": "true"}])  # fmt: skip
def test_production_on_s3_starts_with_a_kms_key_or_an_explicit_opt_out(production, choice):
    result = start({**production, **S3, **choice})

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "storages.backends.s3.S3Storage"


def test_production_on_local_files_refuses_to_start_without_a_key_ring(production):
    result = start({**production, "STORAGE_BACKEND": "local"})

    assert result.returncode != 0
    assert "STORAGE_ENCRYPTION_KEYS must be set when DJANGO_ENV=production" in result.stderr


def test_production_on_local_files_encrypts_with_the_key_ring(production):
    result = start({**production, "STORAGE_ENCRYPTION_KEYS": f"k2:{KEY},k1:{KEY[::-1]}"})

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("EncryptedFileSystemStorage")


def test_a_malformed_key_ring_is_refused_without_showing_the_key(production):
    short = base64.b64encode(b"secret-material").decode()

    result = start({**production, "STORAGE_ENCRYPTION_KEYS": f"k1:{short}"})

    assert result.returncode != 0
    assert "STORAGE_ENCRYPTION_KEYS: Key 'k1' is not the base64 of 32 bytes" in result.stderr
    assert short not in result.stderr


def test_the_embedded_default_generates_its_key_ring_once(tmp_path):
    env = {k: v for k, v in os.environ.items()
           if k not in {"STORAGE_ENCRYPTION_KEYS", "DJANGO_ENV", "STORAGE_BACKEND"}}  # fmt: skip
    env.update(VAR_DIR=str(tmp_path / "var"), DJANGO_SETTINGS_MODULE="portal.settings")
    key_file = tmp_path / "var" / "storage_encryption_keys"

    start(env)
    first = key_file.read_text()
    second_run = start(env)

    assert second_run.returncode == 0, second_run.stderr
    assert key_file.read_text() == first and first.startswith("k1:")
    assert len(base64.b64decode(first.split(":", 1)[1])) == 32
