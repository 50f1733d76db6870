"""The SYNTHETIC sound generator: deterministic, balanced, any sample rate, valid WAV."""

from __future__ import annotations

import io
import wave
from collections import Counter

import numpy as np
import pytest

from diagnostics.ml.synth import generate_dataset, generate_example, to_wav_bytes


def test_same_seed_gives_identical_sounds_and_another_seed_does_not():
    a = generate_dataset(12, seed=42)
    b = generate_dataset(12, seed=42)
    c = generate_dataset(12, seed=43)
    for x, y in zip(a, b, strict=True):
        assert (x.label, x.kind, x.duration_s) == (y.label, y.kind, y.duration_s)
        np.testing.assert_array_equal(x.samples, y.samples)
    assert any(x.samples.shape != z.samples.shape for x, z in zip(a, c, strict=True))


def test_example_from_a_seed_equals_example_from_a_generator_with_that_seed():
    by_seed = generate_example(9, label="anomaly", kind="cough")
    by_rng = generate_example(np.random.default_rng(9), label="anomaly", kind="cough")
    np.testing.assert_array_equal(by_seed.samples, by_rng.samples)


def test_dataset_is_balanced_over_labels_and_kinds():
    sounds = generate_dataset(42, seed=1)
    counts = Counter((s.label, s.kind) for s in sounds)
    assert set(counts) == {
        ("healthy", "cough"),
        ("healthy", "breath"),
        ("anomaly", "cough"),
        ("anomaly", "breath"),
    }
    assert max(counts.values()) - min(counts.values()) <= 1
    assert Counter(s.label for s in sounds) == {"healthy": 21, "anomaly": 21}


@pytest.mark.parametrize("sample_rate", [8000, 16000, 22050, 44100, 48000])
def test_sounds_come_at_the_requested_sample_rate_as_mono_float32_in_range(sample_rate):
    sound = generate_example(3, label="anomaly", kind="breath", sample_rate=sample_rate)
    assert sound.sample_rate == sample_rate
    assert sound.samples.dtype == np.float32 and sound.samples.ndim == 1
    assert len(sound.samples) == round(sound.duration_s * sample_rate)
    assert 0.05 < np.max(np.abs(sound.samples)) <= 1.0


def test_durations_vary_between_one_and_eight_seconds_unless_given():
    durations = [s.duration_s for s in generate_dataset(40, seed=5)]
    assert min(durations) >= 1.0
    assert max(durations) <= 8.0
    assert max(durations) - min(durations) > 3.0
    fixed = generate_example(1, label="healthy", kind="cough", duration_s=2.5)
    assert fixed.duration_s == 2.5 and len(fixed.samples) == 40000


def test_gain_and_noise_vary_between_sounds():
    peaks = [float(np.max(np.abs(s.samples))) for s in generate_dataset(20, seed=8)]
    assert max(peaks) / min(peaks) > 2.0


def test_wheeze_makes_anomalous_sounds_more_tonal_than_healthy_ones():
    def peakiness(samples: np.ndarray) -> float:
        spectrum = np.abs(np.fft.rfft(samples))
        return float(np.max(spectrum) / np.mean(spectrum))

    healthy = [
        peakiness(generate_example(i, label="healthy", kind="breath").samples) for i in range(12)
    ]
    anomaly = [
        peakiness(generate_example(i, label="anomaly", kind="breath").samples) for i in range(12)
    ]
    assert np.median(anomaly) > 2 * np.median(healthy)


def test_wav_bytes_decode_back_to_the_same_sound():
    sound = generate_example(4, label="healthy", kind="cough", sample_rate=22050)
    with wave.open(io.BytesIO(to_wav_bytes(sound))) as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, 22050)
        pcm = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
    np.testing.assert_allclose(pcm / 32767, sound.samples, atol=1 / 32767)


def test_unknown_label_or_kind_is_rejected():
    with pytest.raises(ValueError, match="label"):
        generate_example(0, label="covid", kind="cough")
    with pytest.raises(ValueError, match="kind"):
        generate_example(0, label="healthy", kind="speech")


def test_synthetic_coughvid_layout_reads_back_with_its_labels(tmp_path):
    from diagnostics.ml import datasets, synth

    synth.write_coughvid_layout(tmp_path, 6, seed=2)

    files = datasets.coughvid(tmp_path)
    expected = [s.label for s in synth.generate_dataset(6, seed=2)]
    assert sorted(f.label for f in files) == sorted(expected)
    assert all(f.subject.startswith("synthetic-2-") for f in files)
