"""How usable a recording is: clipping, silence, loudness and whether it holds a cough.

These are warnings shown beside the recording with a suggestion to record again, never reasons to
refuse it: a quiet or partly clipped cough can still be worth a diagnostic. All measures work on
the normalised signal (mono float32, full scale = 1.0) and are plain vectorised NumPy: about a
millisecond for a 5-second clip. Levels are dBFS relative to a full-scale square wave (a
full-scale sine reads -3 dBFS); digital silence reads `FLOOR_DBFS`, never -inf, so the values fit
in JSON.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

FLOOR_DBFS = -120.0
SILENCE_FRAME_S = 0.020
WARNINGS = ("clipped", "mostly_silent", "too_quiet")

# Cough detector (see `_cough_score`): 10 ms energy frames, onset looked for over the previous
# 40 ms, sustain over the next 30 ms, decay over the next 50-400 ms (a cough's explosive phase
# lasts 30-150 ms and the whole cough rarely over 500 ms).
_COUGH_HOP_S = 0.010
_ONSET_FRAMES = 4
_SUSTAIN_FRAMES = 3
_DECAY_START_FRAMES, _DECAY_END_FRAMES = 5, 40
COUGH_THRESHOLD = 0.5


@dataclass(frozen=True)
class Quality:
    clipping_ratio: float
    silence_ratio: float
    loudness_dbfs: float
    peak_dbfs: float
    cough_score: float
    cough_detected: bool
    warnings: list[str]

    def as_dict(self) -> dict[str, object]:
        """The JSON stored in `Recording.quality` (rounded, JSON-native types only)."""
        data = asdict(self)
        for key in ("clipping_ratio", "silence_ratio", "cough_score"):
            data[key] = round(data[key], 4)
        for key in ("loudness_dbfs", "peak_dbfs"):
            data[key] = round(data[key], 2)
        data["warnings"] = list(self.warnings)
        return data


def measure_quality(
    samples: np.ndarray,
    sample_rate: int,
    *,
    clip_threshold: float = 0.999,
    silence_dbfs: float = -50.0,
    quiet_dbfs: float = -40.0,
    max_clipping_ratio: float = 0.01,
    max_silence_ratio: float = 0.8,
) -> Quality:
    """Measure a mono recording and list the warnings it earns.

    - `clipping_ratio`: share of samples with |x| >= `clip_threshold` ("clipped" above
      `max_clipping_ratio`).
    - `silence_ratio`: share of 20 ms frames whose RMS is below `silence_dbfs`
      ("mostly_silent" above `max_silence_ratio`).
    - `loudness_dbfs`: RMS over the frames that are not silent (over all frames if all are),
      so pauses between coughs do not make a recording look quiet ("too_quiet" below
      `quiet_dbfs`).
    - `peak_dbfs`, and `cough_score` in [0, 1] with `cough_detected` when it reaches 0.5.
    """
    x = np.asarray(samples, dtype=np.float32)
    if x.ndim != 1:
        raise ValueError("measure_quality() needs mono samples (a 1-D array)")
    if x.size == 0:
        x = np.zeros(1, dtype=np.float32)
    magnitude = np.abs(x)
    clipping_ratio = float(np.count_nonzero(magnitude >= clip_threshold)) / x.size
    peak_dbfs = _dbfs(float(magnitude.max()) ** 2)

    power = _frame_power(x, max(1, round(SILENCE_FRAME_S * sample_rate)))
    silent = _dbfs(power) < silence_dbfs
    silence_ratio = float(np.mean(silent))
    sounding = power[~silent] if not silent.all() else power
    loudness_dbfs = _dbfs(float(sounding.mean()))

    cough_score = _cough_score(x, sample_rate, silence_dbfs)
    flags = {
        "clipped": clipping_ratio > max_clipping_ratio,
        "mostly_silent": silence_ratio > max_silence_ratio,
        "too_quiet": loudness_dbfs < quiet_dbfs,
    }
    return Quality(
        clipping_ratio=clipping_ratio,
        silence_ratio=silence_ratio,
        loudness_dbfs=loudness_dbfs,
        peak_dbfs=peak_dbfs,
        cough_score=cough_score,
        cough_detected=cough_score >= COUGH_THRESHOLD,
        warnings=[name for name in WARNINGS if flags[name]],
    )


def _frame_power(x: np.ndarray, frame: int) -> np.ndarray:
    """Mean square per non-overlapping frame; a clip shorter than a frame is one frame."""
    count = x.size // frame
    if count == 0:
        return np.array([np.mean(x * x)], dtype=np.float64)
    frames = x[: count * frame].reshape(count, frame).astype(np.float64)
    return np.einsum("ij,ij->i", frames, frames) / frame


def _dbfs(power: np.ndarray | float) -> np.ndarray | float:
    level = 10.0 * np.log10(np.maximum(power, 10.0 ** (FLOOR_DBFS / 10.0)))
    return float(level) if np.ndim(level) == 0 else level


def _ramp(value: np.ndarray, low: float, high: float) -> np.ndarray:
    return np.clip((value - low) / (high - low), 0.0, 1.0)


def _cough_score(x: np.ndarray, sample_rate: int, silence_dbfs: float) -> float:
    """How much the most cough-like moment of the recording looks like a cough, in [0, 1].

    A cough opens explosively (energy jumps tens of dB within a few tens of milliseconds), stays
    loud for some tens of milliseconds and dies away within a few hundred. Every 10 ms frame gets
    four measures in dB, each mapped onto [0, 1] by a linear ramp, and their product:
      - onset: rise over the lowest of the previous 40 ms (6 dB -> 0, 18 dB -> 1);
      - sustain: lowest of this and the next 20 ms above the noise floor, the 20th-percentile
        frame (6 dB -> 0, 12 dB -> 1), which rules out clicks and knocks on the microphone;
      - decay: drop to the lowest of the following 50-400 ms (6 dB -> 0, 18 dB -> 1);
      - prominence: height above the noise floor (10 dB -> 0, 25 dB -> 1).
    Frames quieter than `silence_dbfs` score 0. Steady sounds (tones, noise, breathing with its
    slow swell) lack the onset, a sound that starts and keeps going lacks the decay. Short
    beeps and some speech syllables do score high: this is a hint for the pages, not a classifier.
    """
    energy = _dbfs(_frame_power(x, max(1, round(_COUGH_HOP_S * sample_rate))))
    if energy.size <= _DECAY_START_FRAMES:
        return 0.0
    floor = np.percentile(energy, 20)
    n = energy.size
    padded = np.concatenate(
        [np.full(_ONSET_FRAMES, energy[0]), energy, np.full(_DECAY_END_FRAMES, energy[-1])]
    )
    previous_low = sliding_window_view(padded[:-_DECAY_END_FRAMES], _ONSET_FRAMES).min(axis=1)
    start = _ONSET_FRAMES
    sustained = sliding_window_view(padded[start:], _SUSTAIN_FRAMES).min(axis=1)[:n]
    span = _DECAY_END_FRAMES - _DECAY_START_FRAMES + 1
    following_low = sliding_window_view(padded[start + _DECAY_START_FRAMES :], span).min(axis=1)

    score = (
        _ramp(energy - previous_low[:n], 6.0, 18.0)
        * _ramp(sustained - floor, 6.0, 12.0)
        * _ramp(energy - following_low[:n], 6.0, 18.0)
        * _ramp(energy - floor, 10.0, 25.0)
        * (energy >= silence_dbfs)
    )
    return float(score.max())
