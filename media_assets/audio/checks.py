"""The limits an upload must meet (length, sample rate, channels), and the messages that say so.

Every limit is an argument (`Limits`), passed by the Django side from its settings, so this stays
free of Django. The checks run as early as each fact is known: from a verified WAV header before
anything is decoded, from the stream's parameters, and from the decoded samples.
"""

from __future__ import annotations

from dataclasses import dataclass

from media_assets.audio.rejections import (
    EmptyAudio,
    RecordingTooLong,
    RecordingTooShort,
    UnsupportedFormat,
)
from media_assets.audio.wav import WavHeader


@dataclass(frozen=True)
class Limits:
    max_duration_s: float
    min_duration_s: float
    target_rate: int
    allowed_sample_rates: tuple[int, ...] | None
    max_channels: int


def check_min_duration(duration_s: float, limits: Limits) -> None:
    if duration_s < limits.min_duration_s:
        raise RecordingTooShort(
            f"The recording lasts {_seconds(duration_s)}; at least "
            f"{_seconds(limits.min_duration_s)} are needed. Please record for longer.",
            detail=f"{duration_s:.3f} s",
        )


def check_wav_limits(header: WavHeader, limits: Limits) -> None:
    """Apply the limits from a verified WAV header, before FFmpeg reads a single sample."""
    check_shape(header.sample_rate, header.channels, limits)
    if header.data_size == 0:
        raise EmptyAudio(detail="WAV data chunk is empty")
    if header.duration_s > limits.max_duration_s:
        raise too_long(limits, header.duration_s)


# Whatever the caller allows: resampling from a header's absurd rate (a corrupt WAV claiming
# 1.6 GHz) costs seconds of CPU for no sound.
_SANE_SAMPLE_RATES = range(4000, 192_001)


def check_shape(sample_rate: int, channels: int, limits: Limits) -> None:
    if sample_rate not in _SANE_SAMPLE_RATES:
        raise UnsupportedFormat(
            f"The recording's sample rate ({sample_rate:,} Hz) is not supported.",
            detail=f"sample rate {sample_rate}",
        )
    if channels > limits.max_channels:
        raise UnsupportedFormat(
            f"The recording has {channels} audio channels; at most {limits.max_channels} "
            "are accepted. Please record in mono or stereo.",
            detail=f"{channels} channels",
        )
    allowed = limits.allowed_sample_rates
    if allowed is not None and sample_rate not in allowed:
        rates = ", ".join(f"{rate:,} Hz" for rate in sorted(allowed))
        raise UnsupportedFormat(
            f"The recording's sample rate ({sample_rate:,} Hz) is not accepted. "
            f"Accepted rates: {rates}.",
            detail=f"sample rate {sample_rate}",
        )


def _seconds(value: float) -> str:
    if value >= 120:
        return f"{value / 60:.0f} minutes"
    return f"{value:.1f} seconds" if value < 10 else f"{value:.0f} seconds"


def too_long(limits: Limits, duration_s: float | None = None) -> RecordingTooLong:
    limit = _seconds(limits.max_duration_s)
    if duration_s is None:
        message = f"The recording is longer than the limit of {limit}."
    else:
        message = f"The recording lasts {_seconds(duration_s)}; the limit is {limit}."
    return RecordingTooLong(
        f"{message} Please upload a shorter recording.",
        detail=f"more than {limits.max_duration_s} s",
    )
