"""The log-mel front end: shapes, frequency placement, and one function shared with inference."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from diagnostics.ml.features import (
    FeatureConfig,
    _mel_matrix,
    _mel_matrix_numpy,
    fit_clip,
    log_mel,
    log_mel_frames,
    log_mel_numpy,
)

SR = 16000


def _tone(freq_hz: float, seconds: float = 1.0) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return (0.5 * np.sin(2 * np.pi * freq_hz * t)).astype(np.float32)


def test_five_second_clip_gives_498_frames_of_64_mel_bands():
    features = log_mel(tf.zeros([2, 5 * SR]), FeatureConfig())
    assert features.shape == (2, 498, 64)
    assert FeatureConfig().n_frames(5 * SR) == 498


def test_one_kilohertz_tone_peaks_in_the_mel_band_containing_one_kilohertz():
    config = FeatureConfig()
    features = log_mel_numpy(_tone(1000.0)[None, :], config)[0]
    peak_band = int(np.argmax(features.mean(axis=0)))
    edges = config.mel_band_edges()
    assert edges[peak_band] < 1000.0 < edges[peak_band + 2]
    centres = edges[1:-1]
    assert abs(centres[peak_band] - 1000.0) == pytest.approx(np.min(np.abs(centres - 1000.0)))


def test_a_higher_tone_peaks_in_a_higher_band():
    config = FeatureConfig()
    features = log_mel_numpy(np.stack([_tone(300.0), _tone(3000.0)]), config)
    low, high = (int(np.argmax(f.mean(axis=0))) for f in features)
    assert low < high


def test_silence_sits_at_the_log_floor():
    features = log_mel_numpy(np.zeros((1, SR), dtype=np.float32), FeatureConfig())
    assert np.allclose(features, np.log(1e-6))


def test_numpy_wrapper_matches_the_tensorflow_function_and_a_tf_function_trace():
    config = FeatureConfig()
    clips = np.random.default_rng(0).uniform(-1, 1, (3, SR)).astype(np.float32)
    eager = log_mel(tf.constant(clips), config).numpy()
    traced = tf.function(lambda x: log_mel(x, config))(tf.constant(clips)).numpy()
    np.testing.assert_allclose(log_mel_numpy(clips, config, batch_size=2), eager, atol=1e-5)
    np.testing.assert_allclose(traced, eager, atol=1e-4)


@pytest.mark.parametrize(
    "config",
    [FeatureConfig(), FeatureConfig(n_mels=40, fmin=0.0, fmax=7600.0),
     FeatureConfig(sample_rate=8000, window=200, hop=80, fft=256, fmax=4000.0)],
)  # fmt: skip
def test_the_numpy_front_end_of_the_picture_equals_the_models(config):
    """The spectrogram picture is drawn with ``log_mel_frames`` (NumPy, no TensorFlow in the
    worker that draws it): it must show what the model hears, to float32 rounding."""
    np.testing.assert_allclose(_mel_matrix_numpy(config), _mel_matrix(config), atol=2e-5)
    rate = config.sample_rate
    rng = np.random.default_rng(1)
    t = np.arange(2 * rate) / rate
    clips = [
        rng.uniform(-1, 1, 5 * rate).astype(np.float32),
        (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32),
        np.zeros(rate, dtype=np.float32),
        rng.uniform(-1e-3, 1e-3, config.window + 3 * config.hop).astype(np.float32),
    ]
    for clip in clips:
        expected = log_mel(tf.constant(clip[None, :]), config).numpy()[0]
        drawn = log_mel_frames(clip, config)
        assert drawn.shape == expected.shape == (config.n_frames(len(clip)), config.n_mels)
        power = np.exp(expected)
        np.testing.assert_allclose(np.exp(drawn), power, rtol=1e-3, atol=1e-5 * power.max())
    assert log_mel_frames(np.zeros(config.window - 1), config).shape == (0, config.n_mels)


def test_feature_config_round_trips_through_a_dict():
    config = FeatureConfig(n_mels=40, fmax=7600.0)
    assert FeatureConfig.from_dict(config.to_dict()) == config
    assert config.to_dict()["window"] == 400 and config.to_dict()["hop"] == 160


def test_feature_config_rejects_unknown_keys_and_impossible_values():
    with pytest.raises(ValueError, match="unknown"):
        FeatureConfig.from_dict({**FeatureConfig().to_dict(), "n_fft": 1024})
    with pytest.raises(ValueError):
        FeatureConfig(fmax=9000.0)


def test_fit_clip_keeps_the_centre_of_a_long_clip():
    clip = np.arange(10, dtype=np.float32)
    np.testing.assert_array_equal(fit_clip(clip, 4), [3, 4, 5, 6])


def test_fit_clip_zero_pads_a_short_clip_around_the_centre():
    fitted = fit_clip(np.ones(3, dtype=np.float32), 8)
    np.testing.assert_array_equal(fitted, [0, 0, 1, 1, 1, 0, 0, 0])
    assert fitted.dtype == np.float32


def test_fit_clip_rejects_stereo_and_non_finite_samples():
    with pytest.raises(ValueError, match="mono"):
        fit_clip(np.zeros((2, 100), dtype=np.float32), 50)
    with pytest.raises(ValueError, match="NaN"):
        fit_clip(np.array([0.0, np.nan], dtype=np.float32), 50)
