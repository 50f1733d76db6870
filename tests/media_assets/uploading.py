"""Shared steps of the upload tests: posting a file the way clients do, and what is left behind."""

from django.core.files.uploadedfile import SimpleUploadedFile

from diagnostics.models import Diagnostic
from media_assets.models import Recording
from tests.conftest import stored_objects
from tests.fixtures import audio_corpus

UPLOAD_URL = "/api/v1/recordings/"


def cough_wav(seed: int = 3, seconds: float = 3.0, rate: int = 16000) -> bytes:
    return audio_corpus.encode(audio_corpus.cough_like(seconds=seconds, rate=rate, seed=seed), rate)


def post_recording(client, patient, content: bytes, name="cough.wav", kind="cough", **extra):
    data = {"patient": patient.pk, "kind": kind, **extra}
    if content is not None:
        data["file"] = SimpleUploadedFile(name, content, content_type="audio/wav")
    return client.post(UPLOAD_URL, data)


def nothing_left_behind(media_root) -> bool:
    return (
        not Recording.objects.exists()
        and not Diagnostic.objects.exists()
        and stored_objects(media_root) == []
    )
