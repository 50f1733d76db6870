"""The spectrogram picture: rendered once from the model's own log-mel features, stored beside
the recording, shown with the audio on the pages, and served with the audio's permission checks
and audit."""

import os

import numpy as np
import pytest
import redis
from django.conf import settings
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile

from diagnostics import spectrogram
from diagnostics.services import submit_recording
from diagnostics.tasks import render_missing_spectrograms
from portal.core.models import AuditEvent, Role
from tests.factories import MembershipFactory, UserFactory
from tests.fixtures.audio_corpus import pcm_wav
from tests.processes import printed_json

pytestmark = pytest.mark.django_db

RATE = 16000


def tone(hz: float, seconds: float = 10.0) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return 0.5 * np.sin(2 * np.pi * hz * t)


def upload(patient, user, signal, name="tone.wav"):
    file = SimpleUploadedFile(name, pcm_wav(signal, RATE), content_type="audio/wav")
    return submit_recording(patient=patient, file=file, kind="breath", symptoms={}, actor=user,
                            original_name=name).recording  # fmt: skip


def picture(recording) -> np.ndarray:
    import tensorflow as tf

    with default_storage.open(recording.spectrogram_key, "rb") as handle:
        return tf.io.decode_png(handle.read()).numpy()


def brightest_row(image: np.ndarray) -> int:
    return int(image.astype(np.float32).sum(axis=(1, 2)).argmax())


def test_a_recording_is_rendered_once_as_the_model_hears_it(patient, clinician):
    low = upload(patient, clinician, tone(300))
    high = upload(patient, clinician, tone(5000), name="high.wav")

    key = spectrogram.render(low.pk)
    spectrogram.render(high.pk)

    low.refresh_from_db()
    high.refresh_from_db()
    assert low.spectrogram_key == key and key.startswith("spectrograms/north/")
    assert key.endswith(".png") and low.storage_key.rsplit(".", 1)[0][len("recordings/") :] in key
    image = picture(low)
    frames = 1 + (10 * RATE - 400) // 160  # a 10 s tone: breathing's minimum
    assert image.shape == (64, frames, 3)  # 64 mel bands by 10 ms frames
    # Low pitch is near the bottom of the picture, high pitch near the top.
    assert brightest_row(picture(low)) > 48 and brightest_row(picture(high)) < 16
    assert spectrogram.render(low.pk) is None  # once: a second render changes nothing
    low.refresh_from_db()
    assert low.spectrogram_key == key


def test_the_png_holds_the_pixels_exactly():
    import tensorflow as tf

    pixels = np.random.default_rng(2).integers(0, 256, (64, 301, 3), dtype=np.uint8)

    png = spectrogram.encode_png(pixels)

    np.testing.assert_array_equal(tf.io.decode_png(png).numpy(), pixels)
    with pytest.raises(ValueError, match="uint8"):
        spectrogram.encode_png(pixels.astype(np.float32))


DRAWN_IN_A_WORKER = """
import json, sys, time
import django
django.setup()
import numpy as np
from diagnostics import spectrogram, tasks
t = np.arange(5 * 16000) / 16000
png = spectrogram.encode_png(spectrogram.image(0.5 * np.sin(2 * np.pi * 300 * t)))
time.sleep(0.3)
started = time.process_time()
for _ in range(3):  # as a worker draws them: one, then a pause until the next
    spectrogram.encode_png(spectrogram.image(0.5 * np.sin(2 * np.pi * 300 * t)))
    time.sleep(0.3)
print(json.dumps({"signature": png[:8].hex(), "tensorflow": "tensorflow" in sys.modules,
                  "cpu_ms": (time.process_time() - started) / 3 * 1000}))
"""


@pytest.mark.django_db(False)
def test_a_picture_is_drawn_without_tensorflow_or_threads_left_spinning():
    """The maintenance worker draws the pictures. TensorFlow loaded there for them took each of
    its pool processes from about 150 MB to about 780 MB; a matrix product in their place left
    OpenBLAS's threads spinning for about 0.1 s of CPU after each picture (110 ms of CPU a
    picture instead of 8), here with two BLAS threads allowed, as a deployment may."""
    drawn = printed_json(
        DRAWN_IN_A_WORKER,
        env={**os.environ, "LOG_LEVEL": "WARNING", "OPENBLAS_NUM_THREADS": "2"},
        timeout=120,
    )
    print(f"CPU a picture, with the pause after it: {drawn['cpu_ms']:.1f} ms")
    assert (drawn["signature"], drawn["tensorflow"]) == ("89504e470d0a1a0a", False)
    assert drawn["cpu_ms"] < 50


def test_the_pages_show_it_and_serve_it_like_the_audio(client, patient, clinician, other_site):
    recording = upload(patient, clinician, tone(440))
    diagnostic = recording.diagnostics.get()
    client.force_login(clinician)
    url = f"/media/recordings/{recording.pk}/spectrogram.png"

    assert client.get(url).status_code == 404  # not rendered yet
    assert url not in client.get(f"/patients/{patient.pk}/").content.decode()
    spectrogram.render(recording.pk)

    for page in (f"/patients/{patient.pk}/", f"/diagnostics/{diagnostic.pk}/"):
        assert f'src="{url}"' in client.get(page).content.decode(), page
    response = client.get(url, HTTP_X_REQUEST_ID="req-spectrogram")
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    assert response.content.startswith(b"\x89PNG")  # checked whole (decrypted) before it is sent
    [event] = AuditEvent.objects.filter(action="recording.spectrogram_viewed")
    assert (event.patient, event.request_id) == (patient, "req-spectrogram")

    stranger = UserFactory(username="south")
    MembershipFactory(user=stranger, site=other_site, role=Role.CLINICIAN)
    client.force_login(stranger)
    assert client.get(url).status_code == 404
    researcher = UserFactory(username="res")
    MembershipFactory(user=researcher, site=patient.site, role=Role.RESEARCHER)
    client.force_login(researcher)
    assert client.get(url).status_code == 403


def test_recordings_left_without_a_picture_are_sent_again(patient, clinician):
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    upload(patient, clinician, tone(440))
    broker.delete("maintenance")

    assert render_missing_spectrograms() == 1
    assert broker.llen("maintenance") == 1
    broker.delete("maintenance")
    broker.close()


def test_a_batchs_pictures_are_rendered_once_and_a_storage_error_is_retried(
    patient, clinician, monkeypatch
):
    from celery.exceptions import Retry

    from diagnostics.tasks import render_spectrograms

    first = upload(patient, clinician, tone(440))
    second = upload(patient, clinician, tone(880), name="b.wav")

    assert render_spectrograms.apply(args=[[first.pk, second.pk, 999_999]]).get() == 2
    assert render_spectrograms.apply(args=[[first.pk]]).get() == 0  # already rendered

    third = upload(patient, clinician, tone(660), name="c.wav")
    monkeypatch.setattr(default_storage, "save", _failing_save)
    asked = []

    def retry(exc, countdown):
        asked.append((type(exc), countdown))
        return Retry(exc=exc, when=countdown)

    monkeypatch.setattr(render_spectrograms, "retry", retry)
    outcome = render_spectrograms.apply(args=[[third.pk]])
    third.refresh_from_db()
    assert asked == [(OSError, 10)]  # backed off, to be tried again
    assert outcome.state == "RETRY" and third.spectrogram_key == ""


def _failing_save(*args, **kwargs):
    raise OSError("storage unavailable")


def test_an_analysed_batch_sends_its_pictures_in_one_message(
    patient, clinician, production_model, django_capture_on_commit_callbacks
):
    from diagnostics import inference
    from portal.core import dispatch

    recordings = [
        upload(patient, clinician, tone(300 + 100 * i), name=f"{i}.wav") for i in range(3)
    ]
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    broker.delete("maintenance")
    first = recordings[0].diagnostics.get()

    with django_capture_on_commit_callbacks(execute=True):
        inference.run_diagnostic(diagnostic_id=first.pk, task_id="in-test")
    dispatch.flush()  # the worker sends it without waiting

    [message] = broker.lrange("maintenance", 0, -1)
    broker.delete("maintenance")
    broker.close()
    assert b"render_spectrograms" in message
    assert all(r.diagnostics.get().status == "succeeded" for r in recordings)
