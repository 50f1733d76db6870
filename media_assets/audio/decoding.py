"""Decoding an upload to 16 kHz mono float32, or refusing it.

`decode()` decides the container from the bytes, verifies a WAV's header, reads 16-bit PCM at the
analysis rate straight from the file, and hands everything else to PyAV with the demuxer the bytes
named, stopping as soon as the recording is known to be too long.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import BinaryIO

import av
import numpy as np

from media_assets.audio.checks import (
    Limits,
    check_min_duration,
    check_shape,
    check_wav_limits,
    too_long,
)
from media_assets.audio.mixing import MonoMixer
from media_assets.audio.rejections import (
    TRUNCATED_MESSAGE,
    CorruptAudio,
    EmptyAudio,
    NotAudio,
    RecordingTooLarge,
    UnsupportedFormat,
)
from media_assets.audio.sniffing import DEMUXERS, sniff_file
from media_assets.audio.wav import WavHeader, read_wav_header


@dataclass(frozen=True, eq=False)
class DecodedAudio:
    """A recording as the rest of the portal sees it: mono float32 at `sample_rate`."""

    samples: np.ndarray
    sample_rate: int
    original_sample_rate: int
    channels: int
    duration_s: float
    container: str
    codec: str


Source = str | os.PathLike[str] | bytes | bytearray | memoryview | BinaryIO


def decode(
    source: Source,
    *,
    max_duration_s: float,
    min_duration_s: float,
    target_rate: int = 16000,
    allowed_sample_rates: tuple[int, ...] | None = None,
    max_channels: int = 2,
    max_bytes: int | None = None,
) -> DecodedAudio:
    """Decode the first audio stream of `source` to mono float32 at `target_rate`, or reject it.

    `source` is a path, the file's bytes, or a seekable binary file object (read from its start
    and left at its start). Decoding stops as soon as more than `max_duration_s` has been
    decoded; a WAV's length is known from its (verified) header, so an over-long WAV is refused
    without decoding at all. `allowed_sample_rates` (None: any) and `max_channels` apply to the
    stream as decoded: Opus always decodes at 48 kHz whatever the microphone's rate.
    """
    limits = Limits(
        max_duration_s=max_duration_s,
        min_duration_s=min_duration_s,
        target_rate=target_rate,
        allowed_sample_rates=tuple(allowed_sample_rates) if allowed_sample_rates else None,
        max_channels=max_channels,
    )
    with _open_source(source) as f:
        size = f.seek(0, io.SEEK_END)
        if max_bytes is not None and size > max_bytes:
            raise RecordingTooLarge(detail=f"{size} bytes, limit {max_bytes}")
        if size == 0:
            raise EmptyAudio("The file is empty. Please record again.", detail="zero bytes")
        container = sniff_file(f)
        if container == "wav":
            header = read_wav_header(f, size)
            check_wav_limits(header, limits)
            if header.is_pcm16 and header.sample_rate == target_rate:
                return _decode_pcm16(f, header, limits)
        f.seek(0)
        return _decode_stream(f, container, limits)


def _decode_pcm16(f: BinaryIO, header: WavHeader, limits: Limits) -> DecodedAudio:
    """16-bit PCM WAV already at the target rate (what the portal stores and most recorders
    write): the samples are read straight from the verified data chunk, exactly as FFmpeg would
    convert them (x / 32768, channels averaged), without its per-file set-up cost."""
    f.seek(header.data_offset)
    pcm = np.frombuffer(f.read(header.data_size), dtype="<i2")
    frames = pcm.reshape(-1, header.channels).astype(np.float32) / np.float32(32768.0)
    samples = frames[:, 0] if header.channels == 1 else frames.mean(axis=1, dtype=np.float32)
    samples = np.ascontiguousarray(samples)
    if samples.size == 0:
        raise EmptyAudio(detail="no samples decoded")
    duration_s = samples.size / limits.target_rate
    check_min_duration(duration_s, limits)
    return DecodedAudio(
        samples=samples, sample_rate=limits.target_rate, original_sample_rate=header.sample_rate,
        channels=header.channels, duration_s=duration_s, container="wav", codec="pcm_s16le",
    )  # fmt: skip


@contextmanager
def _open_source(source: Source) -> Iterator[BinaryIO]:
    if isinstance(source, bytes | bytearray | memoryview):
        yield io.BytesIO(source)
    elif isinstance(source, str | os.PathLike):
        with open(source, "rb") as f:
            yield f
    else:
        if not (hasattr(source, "read") and getattr(source, "seekable", lambda: False)()):
            raise TypeError("decode() needs a path, bytes or a seekable binary file object")
        try:
            yield source
        finally:
            source.seek(0)


# Containers whose stream duration is stated exactly (FLAC STREAMINFO, MP4 mdhd, Ogg's last
# granule position), so that decoding less than it means the file was cut short. MP3 durations
# are estimates from the bitrate and WebM from MediaRecorder states none.
_EXACT_DURATION_CONTAINERS = frozenset({"flac", "m4a", "ogg"})

_UNKNOWN_CODEC_MESSAGE = (
    "The recording's audio encoding is not supported. Please export it as WAV, FLAC, MP3 or M4A."
)

# A WAV header has been verified and says everything; FFmpeg's default probing of PCM WAV
# (25 ms for a few seconds of 16-bit stereo) would cost more than the whole decode.
_DEMUXER_OPTIONS = {"wav": {"probesize": "32", "analyzeduration": "0"}}


def _decode_stream(f: BinaryIO, container: str, limits: Limits) -> DecodedAudio:
    demuxer = DEMUXERS[container]
    try:
        # Tags are untrusted bytes too: undecodable text must not fail the upload.
        options = _DEMUXER_OPTIONS.get(container)
        with av.open(f, format=demuxer, options=options, metadata_errors="replace") as box:
            if not box.streams.audio:
                raise NotAudio(detail=f"{container} file without an audio stream")
            stream = box.streams.audio[0]
            context = stream.codec_context
            if context is None:
                raise UnsupportedFormat(_UNKNOWN_CODEC_MESSAGE, detail="no decoder for the stream")
            if context.sample_rate and context.channels:
                check_shape(context.sample_rate, context.channels, limits)
            samples, decoded_s, first = _decode_frames(box, stream, limits)
            declared_s = 0.0
            if stream.duration and stream.time_base:
                declared_s = float(stream.duration * stream.time_base)
            codec = context.name
    except av.FFmpegError as exc:
        # strerror only: str(exc) carries the file name.
        raise CorruptAudio(detail=f"{type(exc).__name__}: {exc.strerror}") from exc

    cut_short = decoded_s < declared_s - max(0.1, 0.02 * declared_s)
    if container in _EXACT_DURATION_CONTAINERS and declared_s and cut_short:
        raise CorruptAudio(
            TRUNCATED_MESSAGE, detail=f"decoded {decoded_s:.3f} s of {declared_s:.3f} s"
        )
    if samples.size == 0 or first is None:
        raise EmptyAudio(detail="no samples decoded")
    _check_levels(samples)
    duration_s = samples.size / limits.target_rate
    check_min_duration(duration_s, limits)
    return DecodedAudio(
        samples=samples,
        sample_rate=limits.target_rate,
        original_sample_rate=first.sample_rate,
        channels=first.layout.nb_channels,
        duration_s=duration_s,
        container=container,
        codec=codec,
    )


# Float samples hold any value, and a float WAV far over full scale was never a microphone's
# signal (integer samples stored as floats, a unit mix-up): it would pass as merely "clipped" and
# be analysed as a square wave. A little over full scale is an ordinary clipped recording.
MAX_PLAUSIBLE_PEAK = 8.0  # x full scale, +18 dBFS

_IMPOSSIBLE_LEVEL_MESSAGE = (
    "The recording's sound levels are far beyond what a microphone can record, so the file is "
    "damaged or was exported with the wrong settings. Please export it again (as 16-bit WAV, "
    "FLAC, MP3 or M4A) or record it again."
)


def _check_levels(samples: np.ndarray) -> None:
    """Refuse samples no recording can hold: NaN, infinity, or levels far over full scale."""
    if not np.isfinite(samples).all():  # float WAVs can hold NaN and infinity
        raise CorruptAudio(detail="non-finite sample values")
    peak = max(float(samples.max()), -float(samples.min()))
    if peak > MAX_PLAUSIBLE_PEAK:
        raise CorruptAudio(_IMPOSSIBLE_LEVEL_MESSAGE, detail=f"peak at {peak:.3g} x full scale")


def _decode_frames(
    box: av.container.InputContainer, stream: av.AudioStream, limits: Limits
) -> tuple[np.ndarray, float, av.AudioFrame | None]:
    """Decode until the end or until past the limit; return samples, seconds decoded, 1st frame."""
    mixer = MonoMixer(limits.target_rate)
    first = None
    decoded_s = 0.0
    for frame in box.decode(stream):
        if first is None:
            first = frame
            check_shape(frame.sample_rate, frame.layout.nb_channels, limits)
        decoded_s += frame.samples / frame.sample_rate
        if decoded_s > limits.max_duration_s:
            raise too_long(limits)
        mixer.add(frame)
    return mixer.finish(), decoded_s, first
