"""SYNTHETIC labelled cough and breath sounds, for tests, demos and the synthetic baseline model.

No clinical data set can be downloaded where this project is built, so the project ships this
generator. The sounds are caricatures, not recordings: a `cough` is one to three explosive bursts of
decaying band-limited noise, a `breath` is slow noisy inhale/exhale envelopes. A `healthy` sound is
just that; an `anomaly` adds wheeze (sustained tonal components with harmonics and slow frequency
drift), crackles (short damped clicks), or both. Gain, background noise, duration and sample rate
vary. Events sit mostly in the middle 70% of a clip, as in a recording made around a cough, so
the centred crop a model hears (`features.fit_clip`) rarely misses the anomaly that labels it.
A model trained on these sounds has learnt the synthetic task only and must say so
(`trained_on="synthetic"` in its metadata).

Everything is deterministic for a seed, and NumPy only, so it is cheap to import and fast.
"""

from __future__ import annotations

import io
import json
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

LABELS = ("healthy", "anomaly")
KINDS = ("cough", "breath")
MIN_DURATION_S = 1.0
MAX_DURATION_S = 8.0


@dataclass(frozen=True, eq=False)
class SyntheticSound:
    """One SYNTHETIC clip: mono float32 samples in [-1, 1] and what generated it."""

    samples: np.ndarray
    sample_rate: int
    label: str
    kind: str
    duration_s: float


def _as_rng(rng_or_seed: np.random.Generator | int) -> np.random.Generator:
    if isinstance(rng_or_seed, np.random.Generator):
        return rng_or_seed
    return np.random.default_rng(rng_or_seed)


def _shaped_noise(
    rng: np.random.Generator, n: int, sample_rate: int, centre_hz: float, width_hz: float
) -> np.ndarray:
    """Unit-RMS noise with a Gaussian band around `centre_hz`.

    Drawn directly as a random spectrum (only the bins within four widths of the centre) and
    inverse-transformed over a power-of-two block: arbitrary, often prime, FFT lengths are slow.
    """
    size = 1 << max(int(n) - 1, 1).bit_length()
    bin_hz = sample_rate / size
    lo = max(0, int((centre_hz - 4 * width_hz) / bin_hz))
    hi = min(size // 2 + 1, int((centre_hz + 4 * width_hz) / bin_hz) + 1)
    freqs = np.arange(lo, hi, dtype=np.float32) * bin_hz
    weights = np.exp(-0.5 * ((freqs - centre_hz) / width_hz) ** 2)
    spectrum = np.zeros(size // 2 + 1, dtype=np.complex64)
    band = rng.standard_normal((2, hi - lo), dtype=np.float32)
    spectrum[lo:hi] = weights * (band[0] + 1j * band[1])
    out = np.fft.irfft(spectrum, size)[:n].astype(np.float32)
    return out / (np.sqrt(np.mean(out**2)) + 1e-12)


def _cap(freq_hz: float, sample_rate: int) -> float:
    # Keep every component below Nyquist, so an 8 kHz clip has the same sound, band-limited.
    return min(freq_hz, 0.42 * sample_rate)


def _central_start(rng: np.random.Generator, n: int, length: int) -> int:
    """A start index placing `length` samples inside the middle 70% of the clip when it fits.

    Recordings are made around the event, and a model hears the centred crop (`fit_clip`), so
    events cluster in the middle: an anomaly rarely falls wholly outside what the model hears.
    """
    lo, hi = int(0.15 * n), int(0.85 * n) - length
    if hi <= lo:
        lo, hi = 0, n - length
    return int(rng.integers(lo, hi + 1))


def _cough(rng: np.random.Generator, n: int, sample_rate: int) -> np.ndarray:
    """One to three explosive bursts: fast attack, exponentially decaying two-band noise."""
    out = np.zeros(n, dtype=np.float32)
    n_coughs = int(rng.integers(1, 4))
    for _ in range(n_coughs):
        length = min(n, int(rng.uniform(0.25, 0.5) * sample_rate))
        start = _central_start(rng, n, length)
        t = np.arange(length) / sample_rate
        attack = rng.uniform(0.004, 0.015)
        envelope = np.minimum(t / attack, 1.0) * np.exp(
            -np.maximum(t - attack, 0) / rng.uniform(0.04, 0.12)
        )
        low = _shaped_noise(
            rng,
            length,
            sample_rate,
            _cap(rng.uniform(350, 900), sample_rate),
            rng.uniform(250, 600),
        )
        high = _shaped_noise(
            rng,
            length,
            sample_rate,
            _cap(rng.uniform(1500, 3000), sample_rate),
            rng.uniform(700, 1500),
        )
        out[start : start + length] += (
            rng.uniform(0.6, 1.0) * envelope * (low + rng.uniform(0.2, 0.7) * high)
        )
    return out


def _breath(rng: np.random.Generator, n: int, sample_rate: int) -> np.ndarray:
    """Slow inhale/exhale cycles: smooth envelopes over band-limited noise."""
    envelope = np.zeros(n, dtype=np.float32)
    position = -int(rng.uniform(0, 1.5) * sample_rate)  # start somewhere inside a cycle
    while position < n:
        for seconds, gain in (
            (rng.uniform(0.8, 1.5), 1.0),
            (rng.uniform(1.0, 2.0), rng.uniform(0.5, 0.9)),
        ):
            length = int(seconds * sample_rate)
            bump = gain * np.sin(np.arange(length, dtype=np.float32) * (np.pi / length)) ** 2
            lo, hi = max(position, 0), min(position + length, n)
            if hi > lo:
                envelope[lo:hi] = bump[lo - position : hi - position]
            position += length + int(rng.uniform(0.1, 0.6) * sample_rate)
    noise = _shaped_noise(
        rng, n, sample_rate, _cap(rng.uniform(300, 1000), sample_rate), rng.uniform(400, 1200)
    )
    return envelope * noise


def _smooth_gate(length: int, ramp: int) -> np.ndarray:
    """A window that is 1 in the middle with raised-cosine ramps, so tones start without clicks."""
    gate = np.ones(length)
    ramp = min(ramp, length // 2)
    if ramp > 0:
        rise = np.sin(0.5 * np.pi * np.arange(ramp) / ramp) ** 2
        gate[:ramp], gate[length - ramp :] = rise, rise[::-1]
    return gate


def _wheeze(rng: np.random.Generator, n: int, sample_rate: int, level: float) -> np.ndarray:
    """One to three sustained tones with harmonics and slow frequency drift."""
    out = np.zeros(n, dtype=np.float32)
    for _ in range(int(rng.integers(1, 4))):
        length = int(min(rng.uniform(0.3, 1.5), 0.8 * n / sample_rate) * sample_rate)
        start = _central_start(rng, n, length)
        t = np.arange(length) / sample_rate
        f0 = rng.uniform(150, 900)
        drift = rng.uniform(-0.25, 0.25) * t / max(t[-1], 1e-3)
        vibrato = 0.02 * np.sin(2 * np.pi * rng.uniform(2, 6) * t)
        phase = 2 * np.pi * np.cumsum(f0 * (1 + drift + vibrato)) / sample_rate
        tone = np.zeros(length, dtype=np.float32)
        for harmonic in range(1, int(rng.integers(1, 4)) + 1):
            if f0 * harmonic * 1.3 < 0.45 * sample_rate:  # 1.3: room for the upward drift
                tone += np.sin(harmonic * phase).astype(np.float32) / harmonic**1.5
        gate = _smooth_gate(length, int(0.05 * sample_rate))
        out[start : start + length] += level * rng.uniform(0.5, 1.3) * gate * tone
    return out


def _crackles(rng: np.random.Generator, n: int, sample_rate: int, level: float) -> np.ndarray:
    """Five to twenty-five short, loud damped clicks, like fine or coarse crackles."""
    out = np.zeros(n, dtype=np.float32)
    for _ in range(int(rng.integers(5, 26))):
        length = min(n, int(rng.uniform(0.003, 0.015) * sample_rate))
        start = _central_start(rng, n, length)
        t = np.arange(length) / sample_rate
        freq = _cap(rng.uniform(300, 1500), sample_rate)
        click = np.sin(2 * np.pi * freq * t) * np.exp(-t / rng.uniform(0.002, 0.005))
        out[start : start + length] += level * rng.uniform(2.0, 5.0) * click
    return out


def _event_rms(signal: np.ndarray) -> float:
    """RMS of the loudest tenth of the samples: the level of the cough or breath itself.

    Anomalies and background noise are scaled to this, not to the whole clip, so a short cough in
    a long, mostly silent clip still gets an audible wheeze.
    """
    sparse = signal[::8]  # every 8th sample is plenty for a level and keeps long clips cheap
    magnitude = np.abs(sparse)
    loud = sparse[magnitude >= np.quantile(magnitude, 0.9)]
    return float(np.sqrt(np.mean(loud**2))) + 1e-9


def generate_example(
    rng_or_seed: np.random.Generator | int,
    *,
    label: str,
    kind: str,
    sample_rate: int = 16000,
    duration_s: float | None = None,
    min_duration_s: float = 0.0,
) -> SyntheticSound:
    """One SYNTHETIC labelled sound; `duration_s=None` draws 1 to 8 seconds, and no fewer than
    `min_duration_s` (an upload's minimum for its kind: the draw is made all the same, so
    sounds long enough already stay as they were)."""
    if label not in LABELS:
        raise ValueError(f"label must be one of {LABELS}, got {label!r}")
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    if sample_rate < 4000:
        raise ValueError(f"sample_rate must be at least 4000 Hz, got {sample_rate}")
    if duration_s is not None and duration_s < 0.1:
        raise ValueError(f"duration_s must be at least 0.1 s, got {duration_s}")
    rng = _as_rng(rng_or_seed)
    if duration_s is None:
        duration_s = max(float(rng.uniform(MIN_DURATION_S, MAX_DURATION_S)), min_duration_s)
    n = max(1, round(duration_s * sample_rate))
    signal = (_cough if kind == "cough" else _breath)(rng, n, sample_rate)
    if label == "anomaly":
        level = _event_rms(signal)
        which = rng.choice(["wheeze", "crackles", "both"], p=[0.4, 0.3, 0.3])
        if which in ("wheeze", "both"):
            signal = signal + _wheeze(rng, n, sample_rate, level)
        if which in ("crackles", "both"):
            signal = signal + _crackles(rng, n, sample_rate, level)
    return SyntheticSound(
        samples=_finish(rng, signal),
        sample_rate=sample_rate,
        label=label,
        kind=kind,
        duration_s=n / sample_rate,
    )


def _finish(rng: np.random.Generator, signal: np.ndarray) -> np.ndarray:
    """Add background noise at 15-40 dB SNR, then scale to a random peak gain in [0.1, 0.95]."""
    signal = signal.astype(np.float32, copy=False)
    signal /= np.max(np.abs(signal)) + 1e-12
    noise_rms = _event_rms(signal) * 10 ** (-rng.uniform(15, 40) / 20)
    signal += rng.standard_normal(signal.shape[0], dtype=np.float32) * np.float32(noise_rms)
    signal *= np.float32(rng.uniform(0.1, 0.95) / (np.max(np.abs(signal)) + 1e-12))
    return np.clip(signal, -1.0, 1.0, out=signal)


def generate_dataset(
    n: int, *, seed: int, sample_rate: int = 16000, min_duration_s: dict[str, float] | None = None
) -> list[SyntheticSound]:
    """`n` SYNTHETIC sounds balanced over labels and kinds (counts differ by at most one), shuffled.

    Each example has its own child seed, so example i is the same whatever else is generated.
    `min_duration_s` gives a kind's shortest sound (the uploads' minimums, for sounds that are
    uploaded).
    """
    # Labels vary fastest, so any n splits evenly between labels first, kinds second.
    combos = [(label, kind) for kind in KINDS for label in LABELS]
    order = np.random.default_rng(seed).permutation(n)
    children = np.random.SeedSequence(seed).spawn(n)
    sounds = []
    for i in range(n):
        label, kind = combos[order[i] % len(combos)]
        rng = np.random.default_rng(children[i])
        shortest = (min_duration_s or {}).get(kind, 0.0)
        sounds.append(
            generate_example(
                rng, label=label, kind=kind, sample_rate=sample_rate, min_duration_s=shortest
            )
        )
    return sounds


def to_wav_bytes(sound: SyntheticSound) -> bytes:
    """The sound as a 16-bit PCM mono WAV file."""
    pcm = np.round(np.clip(sound.samples, -1.0, 1.0) * 32767).astype("<i2")
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(sound.sample_rate)
        wav.writeframes(pcm.tobytes())
    return buffer.getvalue()


def write_coughvid_layout(root: str | Path, n: int, *, seed: int) -> Path:
    """`n` SYNTHETIC subjects in the COUGHVID layout (`<id>.json` beside `<id>.wav`, one sound
    each), for `manage.py import_dataset coughvid` and a training run from their labels: the
    end-to-end path a site with the real data set takes, on sounds anyone can generate."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i, sound in enumerate(generate_dataset(n, seed=seed)):
        subject = f"synthetic-{seed}-{i:05d}"
        record = {
            "status": "healthy" if sound.label == "healthy" else "symptomatic",
            "age": int(rng.integers(18, 90)),
            "gender": str(rng.choice(["female", "male"])),
            "cough_detected": "0.99",
        }
        (root / f"{subject}.json").write_text(json.dumps(record))
        (root / f"{subject}.wav").write_bytes(to_wav_bytes(sound))
    return root
