"""Bad uploads through ``POST /api/v1/recordings/``: a clear 4xx each, and nothing left behind."""

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from media_assets.models import Recording
from tests.factories import PatientFactory
from tests.fixtures import audio_corpus
from tests.media_assets.uploading import (
    UPLOAD_URL,
    cough_wav,
    nothing_left_behind,
    post_recording,
)

pytestmark = pytest.mark.django_db


def ninety_second_wav() -> bytes:
    return audio_corpus.pcm_wav(audio_corpus.noise(seconds=90, rate=8000), 8000)


def thousand_times_too_loud_float_wav() -> bytes:
    """A float WAV whose samples reach 1,000 times full scale: no microphone records that."""
    data = bytearray(audio_corpus.encode(audio_corpus.cough_like(), 16000, "wav_float"))
    start = data.find(b"data") + 8
    size = int.from_bytes(data[start - 4 : start], "little")
    samples = np.frombuffer(bytes(data[start : start + size]), dtype="<f4") * np.float32(1000)
    data[start : start + size] = samples.astype("<f4").tobytes()
    return bytes(data)


BAD_INPUTS = {
    # name: (file bytes, file name, status, error code)
    "zero bytes": (audio_corpus.zero_bytes, "empty.wav", 400, "empty_audio"),
    "random bytes named .wav": (audio_corpus.random_bytes, "noise.wav", 415, "not_audio"),
    "html page named .mp3": (audio_corpus.html_page, "song.mp3", 415, "not_audio"),
    "wav whose header lies": (audio_corpus.wav_with_lying_header, "a.wav", 400, "corrupt_audio"),
    "wav truncated mid-frame": (
        audio_corpus.wav_truncated_mid_frame,
        "b.wav",
        400,
        "corrupt_audio",
    ),
    "zip archive": (audio_corpus.zip_archive, "recording.zip", 415, "not_audio"),
    "png with an audio type": (audio_corpus.png_image, "cough.wav", 415, "not_audio"),
    "video without audio": (audio_corpus.video_without_audio, "clip.m4a", 415, "not_audio"),
    "ninety seconds": (ninety_second_wav, "long.wav", 400, "too_long"),
    "float wav a thousand times too loud": (
        thousand_times_too_loud_float_wav,
        "loud.wav",
        400,
        "corrupt_audio",
    ),
    "passwd text named ../../etc/passwd.wav": (
        lambda: b"root:x:0:0:root:/root:/bin/bash\n",
        "../../etc/passwd.wav",
        415,
        "not_audio",
    ),
}


@pytest.mark.parametrize("case", BAD_INPUTS, ids=list(BAD_INPUTS))
def test_bad_upload_is_refused_with_a_clear_error_and_leaves_nothing(
    api, patient, media_root, case
):
    make, name, status, code = BAD_INPUTS[case]

    response = post_recording(api, patient, make(), name=name)

    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert error["code"] == code
    assert len(error["message"]) > 20 and name not in error["message"]
    assert nothing_left_behind(media_root)


def test_a_too_short_recording_is_refused(api, patient, media_root):
    short = audio_corpus.pcm_wav(audio_corpus.tone(seconds=0.2), 16000)

    response = post_recording(api, patient, short)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "too_short"
    assert nothing_left_behind(media_root)


def test_a_file_over_the_size_limit_is_413(api, patient, media_root, settings):
    settings.RECORDING_MAX_BYTES = 50_000

    response = post_recording(api, patient, cough_wav(seconds=3.0))

    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_large"
    assert nothing_left_behind(media_root)


def test_missing_patient_field_is_400_and_unknown_patient_404(api, patient, media_root):
    no_patient = api.post(
        UPLOAD_URL, {"kind": "cough", "file": SimpleUploadedFile("a.wav", cough_wav())}
    )
    unknown = api.post(
        UPLOAD_URL,
        {"patient": 999999, "kind": "cough", "file": SimpleUploadedFile("a.wav", cough_wav())},
    )

    assert no_patient.status_code == 400
    assert no_patient.json()["error"]["code"] == "invalid"
    assert "patient" in no_patient.json()["error"]["message"]
    assert unknown.status_code == 404
    assert unknown.json()["error"] == {"code": "not_found", "message": "Patient not found."}
    assert nothing_left_behind(media_root)


def test_a_patient_of_another_site_looks_exactly_like_a_missing_one(api, other_site, media_root):
    elsewhere = PatientFactory(site=other_site)

    response = post_recording(api, elsewhere, cough_wav())

    assert response.status_code == 404
    assert response.json()["error"] == {"code": "not_found", "message": "Patient not found."}
    assert nothing_left_behind(media_root)


def test_a_body_with_two_files_is_refused(api, patient, media_root):
    response = api.post(
        UPLOAD_URL,
        {
            "patient": patient.pk,
            "kind": "cough",
            "file": [
                SimpleUploadedFile("a.wav", cough_wav(1)),
                SimpleUploadedFile("b.wav", cough_wav(2)),
            ],
        },
    )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "too_many_files"
    assert nothing_left_behind(media_root)


def test_unknown_kind_and_malformed_symptoms_are_400(api, patient, media_root):
    bad_kind = post_recording(api, patient, cough_wav(), kind="sneeze")
    bad_symptoms = post_recording(api, patient, cough_wav(), symptoms='{"fever": "very"}')
    free_text = post_recording(
        api, patient, cough_wav(), symptoms='{"known_conditions": ["lives at 1 Main St"]}'
    )

    assert bad_kind.status_code == 400 and "kind" in bad_kind.json()["error"]["message"]
    assert bad_symptoms.status_code == 400
    assert "fever must be true or false" in bad_symptoms.json()["error"]["message"]
    assert free_text.status_code == 400
    assert nothing_left_behind(media_root)


def test_anonymous_upload_is_401_in_the_error_shape(client, patient, media_root):
    response = post_recording(client, patient, cough_wav())

    assert response.status_code in (401, 403)
    assert response.json()["error"]["code"] in ("not_authenticated", "authentication_failed")
    assert nothing_left_behind(media_root)


@pytest.mark.parametrize(
    "name", ["../../etc/passwd.wav", "Husten 🤧 سعال.wav", "C:\\Users\\dr\\cough\x00\u202e.wav"]
)
def test_odd_file_names_never_reach_the_storage_key(api, patient, media_root, name):
    response = post_recording(api, patient, cough_wav(), name=name)

    assert response.status_code == 201, response.content
    recording = Recording.objects.get()
    assert recording.storage_key.startswith(f"recordings/{patient.site.code}/")
    assert recording.storage_key.endswith(".wav") and ".." not in recording.storage_key
    assert "/" not in recording.original_name and "\\" not in recording.original_name
    assert "\x00" not in recording.original_name and "\u202e" not in recording.original_name
    (stored,) = [p.relative_to(media_root).as_posix() for p in media_root.rglob("*") if p.is_file()]
    assert stored == recording.storage_key


def test_a_good_upload_in_each_browser_format_is_accepted(api, patient):
    signal = audio_corpus.cough_like(seconds=3.0, rate=48000)
    for index, fmt in enumerate(["wav", "flac", "ogg_opus", "webm_opus", "mp3", "m4a"]):
        content = audio_corpus.encode(signal * (0.9 - index * 0.05), 48000, fmt)
        response = post_recording(api, patient, content, name=f"take.{fmt}")

        assert response.status_code == 201, (fmt, response.content)
        assert abs(response.json()["duration_s"] - 3.0) < 0.1
    assert Recording.objects.count() == 6
    assert np.all([r.diagnostics.count() == 1 for r in Recording.objects.all()])
