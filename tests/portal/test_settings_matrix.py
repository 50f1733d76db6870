"""The one settings module, read under each environment the README describes."""

import json
import os
import secrets
import subprocess
import sys

import pytest

from tests.processes import ROOT, printed_json

PROBE = """
import json
from django.conf import settings
import django
django.setup()
db = settings.DATABASES["default"]
print(json.dumps({
    "engine": db["ENGINE"],
    "name": str(db["NAME"]),
    "options": {k: v for k, v in db.get("OPTIONS", {}).items() if k != "pool"},
    "pool": db.get("OPTIONS", {}).get("pool"),
    "redis": settings.REDIS_URL,
    "embedded_redis": settings.EMBEDDED_REDIS,
    "broker": settings.CELERY_BROKER_URL,
    "channel_hosts": settings.CHANNEL_LAYERS["default"]["CONFIG"]["hosts"],
    "cache": settings.CACHES["default"]["LOCATION"],
    "storage": settings.STORAGES["default"]["BACKEND"],
    "storage_options": settings.STORAGES["default"]["OPTIONS"],
    "secret_key_len": len(settings.SECRET_KEY),
    "hsts": getattr(settings, "SECURE_HSTS_SECONDS", 0),
    "session_cookie_secure": settings.SESSION_COOKIE_SECURE,
}, default=str))
"""

SERVICE_VARS = ("DATABASE_URL", "REDIS_URL", "STORAGE_BACKEND", "DJANGO_ENV", "SECRET_KEY",
                "STORAGE_ENCRYPTION_KEYS")  # fmt: skip
KEY_RING = "k1:" + "A" * 43 + "="  # 32 zero bytes


def load_settings(tmp_path, **overrides) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in SERVICE_VARS}
    env.update({"VAR_DIR": str(tmp_path / "var"), "DJANGO_SETTINGS_MODULE": "portal.settings"})
    env.update(overrides)
    return subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True
    )


def settings_under(tmp_path, **overrides) -> dict:
    result = load_settings(tmp_path, **overrides)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_embedded_default_uses_sqlite_in_wal_mode_local_files_and_embedded_redis(tmp_path):
    conf = settings_under(tmp_path, EMBEDDED_REDIS_PORT="6499")

    assert conf["engine"].endswith("sqlite3")
    assert conf["name"] == str(tmp_path / "var" / "db.sqlite3")
    assert "journal_mode=WAL" in conf["options"]["init_command"]
    assert conf["embedded_redis"] is True
    assert conf["redis"] == conf["broker"] == conf["cache"] == "redis://127.0.0.1:6499/0"
    assert conf["channel_hosts"] == ["redis://127.0.0.1:6499/0"]
    assert conf["storage"] == "media_assets.encrypted_storage.EncryptedFileSystemStorage"
    assert conf["storage_options"]["location"] == str(tmp_path / "var" / "media")
    assert conf["storage_options"]["base_url"] is None, "media must never get a public URL"


def test_embedded_secret_key_is_generated_once_and_kept(tmp_path):
    settings_under(tmp_path)
    key_file = tmp_path / "var" / "secret_key"
    first = key_file.read_text()
    settings_under(tmp_path)

    assert len(first) >= 50
    assert key_file.read_text() == first
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"


def test_services_use_postgresql_with_a_pool_redis_and_s3(tmp_path):
    conf = settings_under(
        tmp_path,
        DATABASE_URL="postgres://portal:pw@db.internal:5432/portal",
        REDIS_URL="redis://cache.internal:6379/2",
        STORAGE_BACKEND="s3",
        AWS_STORAGE_BUCKET_NAME="recordings",
        AWS_S3_REGION_NAME="eu-west-1",
        AWS_S3_KMS_KEY_ID="alias/portal",
    )

    assert conf["engine"].endswith("postgresql")
    assert conf["name"] == "portal"
    assert conf["pool"]["max_size"] >= 1
    assert conf["embedded_redis"] is False
    assert conf["redis"] == conf["broker"] == conf["cache"] == "redis://cache.internal:6379/2"
    assert conf["storage"] == "storages.backends.s3.S3Storage"
    assert conf["storage_options"]["bucket_name"] == "recordings"
    assert conf["storage_options"]["querystring_auth"] is True
    assert conf["storage_options"]["object_parameters"]["ServerSideEncryption"] == "aws:kms"


@pytest.mark.parametrize("missing", ["SECRET_KEY", "DATABASE_URL", "REDIS_URL", "ALLOWED_HOSTS"])
def test_production_refuses_to_start_without_its_secrets(tmp_path, missing):
    production = {
        "DJANGO_ENV": "production",
        "SECRET_KEY": secrets.token_urlsafe(64),
        "DATABASE_URL": "postgres://portal@db.internal/portal",
        "REDIS_URL": "redis://cache.internal:6379/0",
        "ALLOWED_HOSTS": "portal.example.org",
        "STORAGE_ENCRYPTION_KEYS": KEY_RING,
    }
    del production[missing]
    result = load_settings(tmp_path, **production)

    assert result.returncode != 0
    assert f"{missing} must be set when DJANGO_ENV=production" in result.stderr


def test_production_turns_on_transport_security(tmp_path):
    conf = settings_under(
        tmp_path,
        DJANGO_ENV="production",
        SECRET_KEY=secrets.token_urlsafe(64),
        DATABASE_URL="postgres://portal@db.internal/portal",
        REDIS_URL="redis://cache.internal:6379/0",
        ALLOWED_HOSTS="portal.example.org",
        STORAGE_ENCRYPTION_KEYS=KEY_RING,
    )

    assert conf["hsts"] >= 31536000
    assert conf["session_cookie_secure"] is True


def test_unknown_storage_backend_is_refused(tmp_path):
    result = load_settings(tmp_path, STORAGE_BACKEND="ftp")

    assert result.returncode != 0
    assert "STORAGE_BACKEND must be 'local' or 's3'" in result.stderr


PREPARED = """
import django, json
django.setup()
from django.contrib.auth import get_user_model
from django.db import connection
for _ in range(4):  # the same statement, four times on one connection
    get_user_model().objects.filter(pk=1).exists()
with connection.cursor() as cursor:
    cursor.execute("SELECT count(*) FROM pg_prepared_statements")
    prepared = cursor.fetchone()[0]
# 80,000 parameters (4 columns), were it one statement (a binary column keeps Django from UNNEST's arrays);
# the foreign keys are checked at commit, and this rolls back.
from django.db import transaction
from recommender.models import CaseEmbedding
with transaction.atomic():
    CaseEmbedding.objects.bulk_create(
        CaseEmbedding(diagnostic_id=i, model_version_id=1, vector=b"v") for i in range(1, 20_001)
    )
    transaction.set_rollback(True)
print(json.dumps(prepared))
"""


@pytest.mark.parametrize("threshold, prepared", [("", False), ("0", False), ("2", True)])
def test_prepared_statements_only_where_a_threshold_is_set(process_env, threshold, prepared):
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("prepared statements are PostgreSQL's")
    env = {**process_env, "DJANGO_SETTINGS_MODULE": "portal.settings"}
    env.pop("DATABASE_PREPARE_THRESHOLD", None)
    if threshold:
        env["DATABASE_PREPARE_THRESHOLD"] = threshold
    # Off by default: a connection pooler in transaction mode cannot keep prepared statements.
    assert (printed_json(PREPARED, env=env) > 0) is prepared
