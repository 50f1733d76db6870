"""Quality measures turn clipped, silent and quiet recordings into warnings, and find coughs."""

import json

import numpy as np
import pytest

from media_assets.audio import decode
from media_assets.quality import FLOOR_DBFS, measure_quality
from tests.fixtures import audio_corpus as corpus

LIMITS = {"max_duration_s": 30.0, "min_duration_s": 0.1}


def _quality_after_upload(signal, name="wav", rate=16000, **thresholds):
    """Measure a signal the way the portal sees it: encoded, uploaded, decoded."""
    decoded = decode(corpus.encode(signal, rate, name), **LIMITS)
    return measure_quality(decoded.samples, decoded.sample_rate, **thresholds)


@pytest.mark.parametrize("name", ["wav", "flac", "webm_opus", "ogg_opus", "mp3", "m4a"])
def test_clean_cough_recording_has_no_warnings_and_a_detected_cough(name):
    quality = _quality_after_upload(corpus.cough_like(rate=48000), name, rate=48000)

    assert quality.warnings == []
    assert quality.cough_detected
    assert quality.cough_score > 0.9
    assert quality.clipping_ratio == 0.0
    assert -30.0 < quality.loudness_dbfs < -15.0


def test_clean_tone_has_no_warnings_and_no_cough():
    quality = _quality_after_upload(corpus.tone(seconds=2.0))

    assert quality.warnings == []
    assert not quality.cough_detected
    assert quality.peak_dbfs == pytest.approx(-6.02, abs=0.05)  # amplitude 0.5
    assert quality.loudness_dbfs == pytest.approx(-9.03, abs=0.05)  # sine RMS is peak - 3 dB


@pytest.mark.parametrize("name", ["wav", "webm_opus"])
def test_clipped_recording_is_flagged_clipped(name):
    quality = _quality_after_upload(corpus.clipped(), name)

    assert quality.warnings == ["clipped"]
    assert quality.clipping_ratio > 0.3


def test_mostly_silent_recording_is_flagged_but_its_cough_still_counts():
    quality = _quality_after_upload(corpus.mostly_silent())

    assert quality.warnings == ["mostly_silent"]
    assert quality.silence_ratio > 0.9
    assert quality.cough_detected
    # Loudness is measured where there is sound, so pauses do not make it "too quiet".
    assert quality.loudness_dbfs > -30.0


def test_very_quiet_recording_is_flagged_too_quiet():
    quality = _quality_after_upload(corpus.very_quiet())

    assert quality.warnings == ["too_quiet"]
    assert quality.loudness_dbfs == pytest.approx(-45.0, abs=1.0)
    assert quality.silence_ratio == 0.0


def test_digital_silence_is_mostly_silent_and_too_quiet_with_finite_levels():
    quality = measure_quality(np.zeros(32000, dtype=np.float32), 16000)

    assert quality.warnings == ["mostly_silent", "too_quiet"]
    assert quality.silence_ratio == 1.0
    assert quality.loudness_dbfs == quality.peak_dbfs == FLOOR_DBFS
    assert not quality.cough_detected


@pytest.mark.parametrize(
    "signal",
    [
        pytest.param(corpus.noise(seconds=3.0), id="steady-noise"),
        pytest.param(corpus.breath_like(), id="slow-breaths"),
        pytest.param(corpus.tone(seconds=2.0), id="tone"),
        pytest.param(
            np.concatenate([np.zeros((1, 8000), np.float32), corpus.tone(seconds=2.0)], axis=1),
            id="tone-starting-abruptly",
        ),
    ],
)
def test_sounds_without_a_sharp_onset_and_decay_are_not_taken_for_a_cough(signal):
    quality = _quality_after_upload(signal)

    assert not quality.cough_detected
    assert quality.cough_score < 0.2


def test_a_click_on_the_microphone_is_not_taken_for_a_cough():
    signal = corpus.noise(seconds=3.0, rms=0.002)
    signal[0, 16000:16032] = 0.9

    quality = measure_quality(signal[0], 16000)

    assert not quality.cough_detected


def test_a_single_cough_in_a_noisy_room_is_detected():
    quality = measure_quality(corpus.cough_like(at=(1.0,), background_rms=0.02)[0], 16000)

    assert quality.cough_detected
    assert quality.silence_ratio == 0.0


def test_thresholds_are_arguments_the_caller_controls():
    samples = corpus.clipped()[0]

    lenient = measure_quality(samples, 16000, max_clipping_ratio=0.9)
    strict_quiet = measure_quality(corpus.tone()[0], 16000, quiet_dbfs=-3.0)

    assert lenient.warnings == []
    assert strict_quiet.warnings == ["too_quiet"]


def test_quality_as_dict_is_the_json_stored_with_the_recording():
    quality = measure_quality(corpus.mostly_silent()[0], 16000)

    stored = json.loads(json.dumps(quality.as_dict()))

    assert stored == {
        "clipping_ratio": round(quality.clipping_ratio, 4),
        "silence_ratio": round(quality.silence_ratio, 4),
        "loudness_dbfs": round(quality.loudness_dbfs, 2),
        "peak_dbfs": round(quality.peak_dbfs, 2),
        "cough_score": round(quality.cough_score, 4),
        "cough_detected": True,
        "warnings": ["mostly_silent"],
    }


def test_measure_quality_refuses_multichannel_input():
    with pytest.raises(ValueError, match="mono"):
        measure_quality(np.zeros((2, 16000), dtype=np.float32), 16000)


def test_measure_quality_copes_with_clips_shorter_than_a_frame():
    quality = measure_quality(np.full(50, 0.5, dtype=np.float32), 16000)

    assert quality.loudness_dbfs == pytest.approx(-6.02, abs=0.05)
    assert quality.silence_ratio == 0.0
    assert not quality.cough_detected
