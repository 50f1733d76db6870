"""Key rotation: ``reencrypt_storage`` moves every stored object to the key ring's first key, so
the old key can then be dropped; it is idempotent, reports what it did, and refuses to call the
rotation done while an object no key opens is left."""

import base64
import os
from io import StringIO

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command

pytestmark = pytest.mark.django_db

OLD = "k1:" + base64.b64encode(b"\x01" * 32).decode()
NEW = "k2:" + base64.b64encode(b"\x02" * 32).decode()
OBJECTS = {
    "recordings/north/2026/12/a.wav": b"RIFF" + os.urandom(70_000),
    "spectrograms/north/2026/12/a.png": b"\x89PNG" + os.urandom(1_000),
    "research-copies/north/2026/12/a.wav": b"RIFF" + os.urandom(10),
}


def reencrypt() -> str:
    out = StringIO()
    call_command("reencrypt_storage", stdout=out, stderr=StringIO())
    return out.getvalue()


def read_back(key: str) -> bytes:
    with default_storage.open(key, "rb") as handle:
        return handle.read()


@pytest.fixture
def stored_under_old_key(settings):
    settings.STORAGE_ENCRYPTION_KEYS = OLD
    for key, content in OBJECTS.items():
        assert default_storage.save(key, ContentFile(content)) == key
    return settings


def test_every_object_moves_to_the_new_key_and_the_old_key_can_then_be_dropped(
    stored_under_old_key,
):
    settings = stored_under_old_key
    settings.STORAGE_ENCRYPTION_KEYS = NEW
    with pytest.raises(OSError, match="key this server does not hold"):
        read_back(next(iter(OBJECTS)))  # the new key alone cannot read them yet

    settings.STORAGE_ENCRYPTION_KEYS = f"{NEW},{OLD}"
    report = reencrypt()
    settings.STORAGE_ENCRYPTION_KEYS = NEW  # the old key dropped

    assert "3 objects: 3 re-encrypted" in report and "0 unreadable" in report
    assert {key: read_back(key) for key in OBJECTS} == OBJECTS


def test_a_second_run_changes_nothing_and_says_so(stored_under_old_key, media_root):
    settings = stored_under_old_key
    settings.STORAGE_ENCRYPTION_KEYS = f"{NEW},{OLD}"
    reencrypt()
    after_first = {key: (media_root / key).read_bytes() for key in OBJECTS}

    report = reencrypt()

    assert "3 objects: 0 re-encrypted" in report and "3 already under k2" in report
    assert {key: (media_root / key).read_bytes() for key in OBJECTS} == after_first


def test_rewritten_files_keep_their_age_and_private_mode(stored_under_old_key, media_root):
    settings = stored_under_old_key
    path = media_root / next(iter(OBJECTS))
    os.utime(path, (1_700_000_000, 1_700_000_000))  # reconcile_storage's grace reads the age
    settings.STORAGE_ENCRYPTION_KEYS = f"{NEW},{OLD}"

    reencrypt()

    assert path.stat().st_mtime == 1_700_000_000
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".reencrypting")]


def test_a_plain_file_from_before_encryption_is_encrypted(settings, media_root):
    settings.STORAGE_ENCRYPTION_KEYS = NEW
    path = media_root / "recordings" / "north" / "old.wav"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"RIFF" + b"\x00" * 5000)

    report = reencrypt()

    assert "1 encrypted (were plain files)" in report
    assert not path.read_bytes().startswith(b"RIFF")
    assert read_back("recordings/north/old.wav") == b"RIFF" + b"\x00" * 5000


def test_an_object_no_key_opens_is_reported_and_the_rotation_is_not_called_done(
    stored_under_old_key, media_root
):
    settings = stored_under_old_key
    tampered = media_root / "research-copies/north/2026/12/a.wav"
    data = bytearray(tampered.read_bytes())
    data[20] ^= 0xFF  # inside the header
    tampered.write_bytes(bytes(data))
    settings.STORAGE_ENCRYPTION_KEYS = f"{NEW},{OLD}"
    err = StringIO()

    with pytest.raises(CommandError, match="keep the old keys"):
        call_command("reencrypt_storage", stdout=StringIO(), stderr=err)

    assert "unreadable: research-copies/north/2026/12/a.wav" in err.getvalue()
    settings.STORAGE_ENCRYPTION_KEYS = NEW
    assert read_back("recordings/north/2026/12/a.wav") == OBJECTS["recordings/north/2026/12/a.wav"]
