"""Bad audio never gets a confident result: digital silence, a clipped square wave and noise with
no cough in it, uploaded as coughs, come back "inconclusive" with the reason to re-record, however
sure the model was; and the recorder warns before upload."""

import hashlib

import numpy as np
import pytest

from diagnostics.models import Diagnostic
from tests.e2e.conftest import sign_in, wait_until
from tests.e2e.test_upload_problems import choose_file
from tests.factories import PatientFactory
from tests.fixtures import audio_corpus

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(240)]

RATE = 16000
BAD_AUDIO = {
    "silence.wav": (np.zeros((1, 2 * RATE), dtype=np.float32), "mostly_silent",
                    "Re-record: the recording is mostly silence."),
    "square.wav": (np.sign(audio_corpus.tone(220.0, seconds=3.0, rate=RATE)).astype(np.float32),
                   "clipped", "Re-record: the sound is distorted (clipped)."),
    "hiss.wav": (audio_corpus.noise(seconds=3.0, rate=RATE, rms=0.1), "no_cough",
                 "Re-record: no cough was detected."),
}  # fmt: skip


def test_silence_clipping_and_noise_without_a_cough_are_inconclusive_with_the_reason(
    page, server, inference_worker, clinician, site
):
    patient = PatientFactory(site=site)
    sign_in(page, server.url, "clin")
    page.goto(f"{server.url}/patients/{patient.pk}/")

    for name, (signal, _, _) in BAD_AUDIO.items():
        choose_file(page, name, "audio/wav", audio_corpus.pcm_wav(signal, RATE))
        page.click("[data-action=upload]")
        page.wait_for_selector("[data-message].is-ok")
    wait_until(page, "document.querySelectorAll('.result[data-status=succeeded]').length === 3",
               timeout=120, what="three results")  # fmt: skip
    page.steps("results")

    for name, (signal, gate, reason) in BAD_AUDIO.items():
        # A recording keeps only its name's extension: it is found by its bytes.
        sha256 = hashlib.sha256(audio_corpus.pcm_wav(signal, RATE)).hexdigest()
        diagnostic = Diagnostic.objects.get(recording__sha256=sha256)
        card = page.locator(f"[data-diagnostic-id='{diagnostic.pk}']")
        assert card.locator(".result-label").inner_text() == (
            "inconclusive: please re-record or review"
        ), name
        assert card.locator(".result-gate").inner_text() == reason, name
        assert diagnostic.quality_gate == gate
        assert diagnostic.label and diagnostic.scores  # the model's own answer is kept


@pytest.mark.parametrize(
    ("name", "advice"),
    [("silence.wav", "The level meter stayed very low"), ("square.wav", "too loud")],
)
def test_the_recorder_warns_about_silence_and_clipping_before_upload(page, server, clinician,
                                                                     site, name, advice):  # fmt: skip
    patient = PatientFactory(site=site)
    sign_in(page, server.url, "clin")
    page.goto(f"{server.url}/patients/{patient.pk}/")

    signal = BAD_AUDIO[name][0]
    choose_file(page, name, "audio/wav", audio_corpus.pcm_wav(signal, RATE))
    message = page.wait_for_selector("[data-message].is-warn:visible")
    page.steps("warned")

    assert advice in message.inner_text()
    assert page.is_enabled("[data-action=upload]")  # advice, not a refusal: the gate decides


def test_a_chosen_file_shorter_than_the_kinds_minimum_is_refused_before_upload(
    page, server, clinician, site
):
    patient = PatientFactory(site=site)
    sign_in(page, server.url, "clin")
    page.goto(f"{server.url}/patients/{patient.pk}/")
    page.check("input[name=kind][value=breath]")

    page.set_input_files("[data-file]", files=[{
        "name": "short.wav", "mimeType": "audio/wav",
        "buffer": audio_corpus.pcm_wav(audio_corpus.breath_like(seconds=3.0), RATE)}])  # fmt: skip
    message = page.wait_for_selector("[data-message]:visible")

    assert "too short: record at least 10 seconds" in message.inner_text()
    assert page.is_disabled("[data-action=upload]")
