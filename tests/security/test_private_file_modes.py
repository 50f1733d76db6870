"""Files at rest are this user's only (0600, folders 0700), whatever the umask of the process that
writes them: stored objects, the generated secrets, and the SQLite database with its -wal and
-shm files; the processes ``make run`` starts create files with a private umask."""

import os
import sys
import textwrap

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from media_assets.models import Recording
from portal.stack import ProcessGroup
from tests.factories import PatientFactory
from tests.media_assets.uploading import cough_wav, post_recording
from tests.processes import printed_json, run_python


def mode(path) -> str:
    return oct(path.stat().st_mode & 0o777)


@pytest.fixture
def ordinary_umask():
    """The usual 022, under which files would be created world-readable."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


@pytest.mark.django_db
def test_a_stored_recording_and_its_folders_are_private(
    ordinary_umask, client, clinician, site, media_root
):
    client.force_login(clinician)
    response = post_recording(client, PatientFactory(site=site), cough_wav(seed=5))
    path = media_root / Recording.objects.get(pk=response.json()["id"]).storage_key

    assert mode(path) == "0o600"
    assert mode(path.parent) == "0o700" and mode(path.parent.parent) == "0o700"


@pytest.mark.django_db
def test_every_object_the_storage_writes_is_private(ordinary_umask, media_root):
    key = default_storage.save("spectrograms/x/y.png", ContentFile(b"\x89PNG"))

    assert mode(media_root / key) == "0o600"


PROBE = textwrap.dedent(
    """
    import os, json
    os.umask(0o022)
    import django
    django.setup()
    from django.conf import settings
    from django.db import connection
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE IF NOT EXISTS probe (x integer)")
        cursor.execute("INSERT INTO probe VALUES (1)")
    var = settings.VAR_DIR
    names = ["db.sqlite3", "db.sqlite3-wal", "db.sqlite3-shm", "secret_key",
             "storage_encryption_keys"]
    print(json.dumps({n: oct(os.stat(var / n).st_mode & 0o777) for n in names}))
    """
)


def test_the_embedded_database_its_wal_and_the_generated_keys_are_private(tmp_path):
    env = {k: v for k, v in os.environ.items()
           if k not in {"DATABASE_URL", "STORAGE_BACKEND", "SECRET_KEY",
                        "STORAGE_ENCRYPTION_KEYS", "DJANGO_ENV"}}  # fmt: skip
    env.update(VAR_DIR=str(tmp_path / "var"), DJANGO_SETTINGS_MODULE="portal.settings")

    modes = printed_json(PROBE, env=env)
    assert modes == dict.fromkeys(modes, "0o600") and len(modes) == 5


def test_a_database_made_world_readable_earlier_is_made_private_again(tmp_path):
    var = tmp_path / "var"
    var.mkdir()
    for name in ("db.sqlite3", "db.sqlite3-wal"):
        (var / name).touch(mode=0o644)
        (var / name).chmod(0o644)
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "DJANGO_ENV"}}
    env.update(VAR_DIR=str(var), DJANGO_SETTINGS_MODULE="portal.settings")

    run_python("import django; django.setup()", env=env)

    assert mode(var / "db.sqlite3") == mode(var / "db.sqlite3-wal") == "0o600"


def test_the_processes_make_run_starts_create_private_files(tmp_path, ordinary_umask):
    group = ProcessGroup()
    target = tmp_path / "made-by-a-child"
    group.start("child", [sys.executable, "-c", f"open({str(target)!r}, 'w').close()"])

    assert group.procs["child"].wait(timeout=30) == 0
    assert mode(target) == "0o600"
