"""The log-mel front end: the one place where audio becomes model input.

Training (`train.py`) and inference (`model.LoadedModel`) both call `log_mel` and `fit_clip` from
here, so the features a model was trained on and the features it sees in the clinic cannot drift
apart. The parameters travel with every model artifact as a `FeatureConfig` dict.

TensorFlow is imported by the functions that use it, not by this module: the spectrogram picture
(`diagnostics.spectrogram`) draws the same features with `log_mel_frames`, in NumPy, so that the
maintenance worker that renders it never loads TensorFlow (about 630 MB a process).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import tensorflow as tf


@dataclass(frozen=True)
class FeatureConfig:
    """Parameters of the log-mel front end (defaults: 16 kHz, 25 ms / 10 ms, 512-point FFT)."""

    sample_rate: int = 16000
    window: int = 400
    hop: int = 160
    fft: int = 512
    n_mels: int = 64
    fmin: float = 50.0
    fmax: float = 8000.0
    log_floor: float = 1e-6

    def __post_init__(self) -> None:
        if self.window > self.fft:
            raise ValueError(f"window ({self.window}) must not exceed fft ({self.fft})")
        if not 0 <= self.fmin < self.fmax <= self.sample_rate / 2:
            raise ValueError(
                f"need 0 <= fmin < fmax <= sample_rate / 2, got {self.fmin}, {self.fmax}"
            )
        if min(self.window, self.hop, self.n_mels) <= 0 or self.log_floor <= 0:
            raise ValueError("window, hop, n_mels and log_floor must be positive")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeatureConfig:
        """Rebuild a config from `to_dict()` output; unknown keys are an error, not ignored."""
        known = {f.name: f.type for f in fields(cls)}
        unknown = set(data) - set(known)
        if unknown:
            raise ValueError(f"unknown feature config keys: {sorted(unknown)}")
        int_fields = {"sample_rate", "window", "hop", "fft", "n_mels"}
        return cls(**{k: int(v) if k in int_fields else float(v) for k, v in data.items()})

    def n_frames(self, n_samples: int) -> int:
        """Frames `log_mel` yields for a clip of `n_samples` (no padding at the end)."""
        return max(0, 1 + (n_samples - self.window) // self.hop)

    def mel_band_edges(self) -> np.ndarray:
        """The n_mels + 2 band edge frequencies in Hz (band i spans edges i .. i + 2)."""
        mel = np.linspace(_hz_to_mel(self.fmin), _hz_to_mel(self.fmax), self.n_mels + 2)
        return 700.0 * (np.exp(mel / 1127.0) - 1.0)


def _hz_to_mel(hz: float) -> float:
    # The HTK formula, the one tf.signal.linear_to_mel_weight_matrix uses.
    return 1127.0 * float(np.log1p(hz / 700.0))


@functools.lru_cache(maxsize=8)
def _mel_matrix(config: FeatureConfig) -> np.ndarray:
    import tensorflow as tf

    # init_scope lifts this out of any tf.function being traced, so the matrix is computed once,
    # eagerly, and enters graphs as a constant.
    with tf.init_scope():
        matrix = tf.signal.linear_to_mel_weight_matrix(
            num_mel_bins=config.n_mels,
            num_spectrogram_bins=config.fft // 2 + 1,
            sample_rate=config.sample_rate,
            lower_edge_hertz=config.fmin,
            upper_edge_hertz=config.fmax,
        )
        return matrix.numpy()


def log_mel(waveforms: tf.Tensor, config: FeatureConfig) -> tf.Tensor:
    """Log-mel power spectrogram of a batch: [batch, samples] -> [batch, frames, n_mels].

    Works eagerly and inside `tf.function`. Frames = 1 + (samples - window) // hop.
    """
    import tensorflow as tf

    waveforms = tf.convert_to_tensor(waveforms, dtype=tf.float32)
    stft = tf.signal.stft(
        waveforms,
        frame_length=config.window,
        frame_step=config.hop,
        fft_length=config.fft,
        window_fn=tf.signal.hann_window,
        pad_end=False,
    )
    # |z|^2 as re^2 + im^2: the same power without abs()'s square root.
    power = tf.math.square(tf.math.real(stft)) + tf.math.square(tf.math.imag(stft))
    mel = tf.linalg.matmul(power, tf.constant(_mel_matrix(config)))
    return tf.math.log(mel + config.log_floor)


def log_mel_numpy(
    waveforms: np.ndarray, config: FeatureConfig, *, batch_size: int = 64
) -> np.ndarray:
    """`log_mel` over a NumPy [batch, samples] array, in chunks to bound memory."""
    waveforms = np.asarray(waveforms, dtype=np.float32)
    if waveforms.ndim != 2:
        raise ValueError(f"expected [batch, samples], got shape {waveforms.shape}")
    import tensorflow as tf

    chunks = [
        log_mel(tf.constant(waveforms[i : i + batch_size]), config).numpy()
        for i in range(0, len(waveforms), batch_size)
    ]
    if not chunks:
        frames = config.n_frames(waveforms.shape[1])
        return np.zeros((0, frames, config.n_mels), dtype=np.float32)
    return np.concatenate(chunks, axis=0)


@functools.lru_cache(maxsize=8)
def _mel_matrix_numpy(config: FeatureConfig) -> np.ndarray:
    """`tf.signal.linear_to_mel_weight_matrix` in NumPy, as TensorFlow computes it (float32, HTK
    mel scale, triangles over the FFT bins, the DC bin's weights zero): [fft // 2 + 1, n_mels]."""
    bins = config.fft // 2 + 1
    hz = np.linspace(0.0, config.sample_rate / 2, bins, dtype=np.float32)[1:]
    bin_mel = (1127.0 * np.log1p(hz / np.float32(700.0))).astype(np.float32)[:, np.newaxis]
    edges = np.linspace(
        _hz_to_mel(config.fmin), _hz_to_mel(config.fmax), config.n_mels + 2, dtype=np.float32
    )
    lower, centre, upper = edges[:-2], edges[1:-1], edges[2:]
    rising = (bin_mel - lower) / (centre - lower)
    falling = (upper - bin_mel) / (upper - centre)
    weights = np.maximum(np.float32(0.0), np.minimum(rising, falling)).astype(np.float32)
    return np.pad(weights, [[1, 0], [0, 0]])


@functools.lru_cache(maxsize=8)
def _mel_taps(config: FeatureConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The mel matrix's non-zero weights, band by band: (FFT bins, weights, the bands that have
    any, where each of those starts). A band's triangle spans a few bins, so there are about two
    weights a bin instead of ``n_mels``."""
    weights = _mel_matrix_numpy(config)
    bands, bins = np.nonzero(weights.T)  # ordered by band, then bin
    present = np.unique(bands)
    return bins, weights[bins, bands], present, np.searchsorted(bands, present)


def log_mel_frames(samples: np.ndarray, config: FeatureConfig) -> np.ndarray:
    """`log_mel` of one 1-D clip in NumPy alone: [frames, n_mels] (the same periodic Hann window,
    frames, FFT and mel triangles; equal to TensorFlow's to float32 rounding, which
    ``tests/diagnostics/ml/test_log_mel_features.py`` holds it to).

    The mel projection adds each band's few weighted bins instead of multiplying by the whole
    matrix: a matrix product goes to OpenBLAS, whose threads then spin for about 0.1 s of CPU after
    every call, which in a worker drawing a picture every few hundred milliseconds was most of
    its CPU (110 ms a picture instead of 8)."""
    samples = np.asarray(samples, dtype=np.float32)
    if samples.ndim != 1:
        raise ValueError(f"expected a mono 1-D clip, got shape {samples.shape}")
    frames = config.n_frames(samples.shape[0])
    if frames == 0:
        return np.zeros((0, config.n_mels), dtype=np.float32)
    window = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(config.window) / config.window)).astype(
        np.float32
    )
    framed = np.lib.stride_tricks.sliding_window_view(samples, config.window)[:: config.hop]
    spectrum = np.fft.rfft(framed[:frames] * window, n=config.fft)
    power = (np.square(spectrum.real) + np.square(spectrum.imag)).astype(np.float32)
    bins, taps, bands, starts = _mel_taps(config)
    mel = np.zeros((frames, config.n_mels), dtype=np.float32)
    mel[:, bands] = np.add.reduceat(power[:, bins] * taps, starts, axis=1)
    return np.log(mel + np.float32(config.log_floor))


def fit_clip(samples: np.ndarray, n_samples: int) -> np.ndarray:
    """Centre-crop or centre-zero-pad a 1-D clip to exactly `n_samples` float32 samples.

    Centring keeps the middle of a recording, where a clinician's cough or breath usually is,
    rather than the button press at its start.
    """
    return fit_clips([samples], n_samples)[0]


def fit_clips(clips: Sequence[np.ndarray], n_samples: int) -> np.ndarray:
    """`fit_clip` of every clip, written straight into one [len(clips), n_samples] array (one
    allocation and one copy per clip: a batch is built without stacking fitted copies)."""
    batch = np.zeros((len(clips), n_samples), dtype=np.float32)
    for row, samples in zip(batch, clips, strict=True):
        samples = np.asarray(samples, dtype=np.float32)
        if samples.ndim != 1:
            raise ValueError(f"expected a mono 1-D clip, got shape {samples.shape}")
        length = samples.shape[0]
        if length >= n_samples:
            start = (length - n_samples) // 2
            row[:] = samples[start : start + n_samples]
        else:
            start = (n_samples - length) // 2
            row[start : start + length] = samples
    if not np.isfinite(batch).all():
        raise ValueError("clip contains NaN or infinite samples")
    return batch
