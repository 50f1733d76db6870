"""Recordings, research copies and spectrograms are encrypted at rest on file storage: what lies on
disk is not the audio or the picture, it reads back exactly through the storage, and a file that
was altered, cut short or sealed under a key the server does not hold is refused, never served
as garbage."""

import base64

import pytest
from django.core.files.storage import default_storage

from media_assets.models import Recording
from tests.factories import PatientFactory
from tests.media_assets.uploading import cough_wav, post_recording

pytestmark = pytest.mark.django_db

AUDIO = cough_wav(seed=71)  # 96,044 bytes: one whole 64 KiB chunk and a shorter last one
CHUNK = 64 * 1024
TAG = 16


@pytest.fixture
def recording(client, clinician, site):
    client.force_login(clinician)
    response = post_recording(client, PatientFactory(site=site), AUDIO)
    assert response.status_code == 201, response.content
    return Recording.objects.get(pk=response.json()["id"])


def audio_url(recording) -> str:
    return f"/media/recordings/{recording.pk}/audio"


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def read_back(key: str) -> bytes:
    with default_storage.open(key, "rb") as handle:
        return handle.read()


def test_a_stored_recording_on_disk_is_not_the_audio_and_reads_back_exactly(recording, media_root):
    on_disk = (media_root / recording.storage_key).read_bytes()

    assert not on_disk.startswith(b"RIFF")
    assert AUDIO[1000:1064] not in on_disk  # no stretch of the samples either
    assert read_back(recording.storage_key) == AUDIO
    assert default_storage.size(recording.storage_key) == len(AUDIO)


def test_the_whole_recording_is_served_decrypted(client, recording):
    response = client.get(audio_url(recording))

    assert response.status_code == 200
    assert response["Content-Length"] == str(len(AUDIO))
    assert body(response) == AUDIO


@pytest.mark.parametrize(
    "first, last",
    [(0, 99), (CHUNK - 10, CHUNK + 9), (CHUNK, CHUNK + 99), (len(AUDIO) - 10, len(AUDIO) - 1)],
)
def test_range_requests_return_the_right_bytes_across_chunk_boundaries(
    client, recording, first, last
):
    response = client.get(audio_url(recording), headers={"Range": f"bytes={first}-{last}"})

    assert response.status_code == 206
    assert response["Content-Range"] == f"bytes {first}-{last}/{len(AUDIO)}"
    assert body(response) == AUDIO[first : last + 1]


def test_a_tampered_byte_is_refused_with_a_clear_error_not_garbage_audio(
    client, recording, media_root
):
    path = media_root / recording.storage_key
    altered = bytearray(path.read_bytes())
    altered[300] ^= 0x01  # inside the first chunk's ciphertext
    path.write_bytes(bytes(altered))

    response = client.get(audio_url(recording))

    assert response.status_code == 503
    assert "failed its integrity check" in response.content.decode()


def test_a_tampered_byte_late_in_the_file_is_refused_when_it_is_read(recording, media_root):
    path = media_root / recording.storage_key
    altered = bytearray(path.read_bytes())
    altered[-5] ^= 0x80  # the last chunk's tag
    path.write_bytes(bytes(altered))

    with pytest.raises(OSError, match="failed its integrity check"):
        read_back(recording.storage_key)


@pytest.mark.parametrize("cut", ["mid-chunk", "the whole last chunk"])
def test_a_truncated_file_is_refused(recording, media_root, cut):
    path = media_root / recording.storage_key
    data = path.read_bytes()
    last_sealed_chunk = len(AUDIO) - CHUNK + TAG
    path.write_bytes(data[:-10] if cut == "mid-chunk" else data[:-last_sealed_chunk])

    with pytest.raises(OSError, match="failed its integrity check"):
        read_back(recording.storage_key)


def test_an_object_under_a_key_the_ring_does_not_hold_is_refused(recording, settings):
    settings.STORAGE_ENCRYPTION_KEYS = "k9:" + base64.b64encode(bytes(range(32))).decode()

    with pytest.raises(OSError, match="key this server does not hold"):
        read_back(recording.storage_key)


def test_a_research_copy_is_encrypted_at_rest(recording, media_root):
    from portal.research.audio import research_copy

    key = research_copy(recording)

    assert not (media_root / key).read_bytes().startswith(b"RIFF")
    assert read_back(key).startswith(b"RIFF")


def test_a_spectrogram_is_encrypted_at_rest_and_served_decrypted(client, recording, media_root):
    from diagnostics import spectrogram

    key = spectrogram.render(recording.pk)
    response = client.get(f"/media/recordings/{recording.pk}/spectrogram.png")

    assert not (media_root / key).read_bytes().startswith(b"\x89PNG")
    assert read_back(key).startswith(b"\x89PNG")
    assert response.status_code == 200 and body(response) == read_back(key)


class CountingFile:
    """A plain file that counts the bytes read from disk."""

    def __init__(self, path):
        self.file = open(path, "rb")  # noqa: SIM115 - closed by the reader
        self.bytes_read = 0

    def read(self, size=-1):
        data = self.file.read(size)
        self.bytes_read += len(data)
        return data

    def __getattr__(self, name):
        return getattr(self.file, name)


def test_a_range_reads_and_decrypts_only_the_chunks_it_covers(settings, media_root):
    from django.core.files.base import ContentFile

    from media_assets.encryption import DecryptingReader, KeyRing

    content = bytes(range(256)) * 4096  # 1 MiB: 16 chunks
    key = default_storage.save("recordings/x/long.wav", ContentFile(content))
    disk = CountingFile(media_root / key)
    reader = DecryptingReader(disk, KeyRing.parse(settings.STORAGE_ENCRYPTION_KEYS))

    reader.seek(len(content) - CHUNK - 100)
    tail = reader.read(200)  # across the last two chunks
    reader.close()

    assert tail == content[-CHUNK - 100 : -CHUNK + 100]
    assert disk.bytes_read < 200 + 2 * (CHUNK + TAG)  # the header and two chunks, not sixteen
