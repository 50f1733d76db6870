"""The one place that opens uploaded audio: sniffing, integrity checks, decoding, normalisation.

Every surface that accepts a recording (the clinician page, `POST /api/v1/recordings/`, the
direct-to-storage completion step, integrity jobs) hands the bytes to `decode()`, which either
returns 16 kHz mono float32 samples or raises one `AudioRejected` subclass. Each subclass carries a
stable `code`, a `kind` and a plain-language `message` a clinician can act on, so the
API and the pages map failures in one place. Messages never repeat the file name: clinicians often
name files after the patient.

The container is decided from magic bytes only; the file name and the declared content type are
never trusted. FFmpeg is then told which demuxer to use, so it never probes its way into formats we
did not mean to accept (playlists, images, subtitles).

This module imports no Django: every limit is an argument, and the Django side passes its settings.
"""

from __future__ import annotations

import io
import os
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import BinaryIO

import av
import numpy as np

__all__ = [
    "CONTENT_TYPES",
    "SNIFF_BYTES",
    "STORAGE_EXTENSIONS",
    "AudioRejected",
    "CorruptAudio",
    "DecodedAudio",
    "EmptyAudio",
    "NotAudio",
    "RecordingTooLarge",
    "RecordingTooLong",
    "RecordingTooShort",
    "UnsupportedFormat",
    "decode",
    "sniff",
    "to_wav",
]


class AudioRejected(Exception):
    """An upload that cannot become a recording; `code` and `message` go to the client as-is, and
    `kind` (invalid, too_large, unsupported) decides the status, in `portal.core.errors.ANSWERS`.

    `detail` is the technical reason, for logs only. Neither it nor `message` ever holds the file
    name.
    """

    code = "audio_rejected"
    kind = "invalid"
    default_message = "The file could not be used as a recording."

    def __init__(self, message: str | None = None, *, detail: str = "") -> None:
        self.message = message or self.default_message
        self.detail = detail
        super().__init__(self.message)

    def as_dict(self) -> dict[str, str]:
        """The `{"code", "message"}` body of the API's error envelope."""
        return {"code": self.code, "message": self.message}


class NotAudio(AudioRejected):
    code = "not_audio"
    kind = "unsupported"
    default_message = (
        "This file is not a recording in a supported audio format "
        "(WAV, FLAC, Ogg, WebM, MP3 or M4A)."
    )


class CorruptAudio(AudioRejected):
    code = "corrupt_audio"
    kind = "invalid"
    default_message = (
        "The recording is damaged or incomplete and cannot be played back. "
        "Please record it again or export it again from the recording device."
    )


class EmptyAudio(AudioRejected):
    code = "empty_audio"
    kind = "invalid"
    default_message = "The file contains no sound. Please record again."


class RecordingTooShort(AudioRejected):
    code = "too_short"
    kind = "invalid"
    default_message = "The recording is too short to be analysed. Please record for longer."


class RecordingTooLong(AudioRejected):
    code = "too_long"
    kind = "invalid"
    default_message = "The recording is too long. Please upload a shorter recording."


class RecordingTooLarge(AudioRejected):
    code = "too_large"
    kind = "too_large"
    default_message = "The file is too large. Please upload a shorter recording."


class UnsupportedFormat(AudioRejected):
    code = "unsupported_format"
    kind = "unsupported"
    default_message = "The recording's audio settings are not supported."


# --- Containers ------------------------------------------------------------------------------

# container -> (FFmpeg demuxer, storage extension, content type)
_CONTAINERS = {
    "wav": ("wav", "wav", "audio/wav"),
    "flac": ("flac", "flac", "audio/flac"),
    "ogg": ("ogg", "ogg", "audio/ogg"),
    "webm": ("matroska", "webm", "audio/webm"),
    "matroska": ("matroska", "mka", "audio/x-matroska"),
    "mp3": ("mp3", "mp3", "audio/mpeg"),
    "m4a": ("mp4", "m4a", "audio/mp4"),
}
STORAGE_EXTENSIONS = MappingProxyType({name: ext for name, (_, ext, _) in _CONTAINERS.items()})
CONTENT_TYPES = MappingProxyType({name: ctype for name, (_, _, ctype) in _CONTAINERS.items()})

# Enough for every signature below, and for an ID3 tag without embedded cover art.
SNIFF_BYTES = 4096


def sniff(head: bytes) -> str:
    """Name the container of a file from its first bytes (`SNIFF_BYTES` is plenty).

    Returns a key of `STORAGE_EXTENSIONS`; raises `NotAudio` for anything else. An ID3 tag is
    skipped and what follows it decides (FLAC files sometimes carry one); if the tag runs past
    `head`, the file is taken for MP3, which is what ID3 tags almost always front.
    """
    head = bytes(head)
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "wav"
    if head[:4] == b"fLaC":
        return "flac"
    if head[:4] == b"OggS":
        return "ogg"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        # The EBML DocType sits in the first few dozen bytes.
        return "webm" if b"webm" in head[:64] else "matroska"
    if head[4:8] == b"ftyp":
        return "m4a"
    if head[:3] == b"ID3":
        tag_end = _id3_end(head)
        return "flac" if head[tag_end : tag_end + 4] == b"fLaC" else "mp3"
    if _is_mpeg_audio_header(head[:4]):
        return "mp3"
    raise NotAudio(detail="unrecognised signature")  # the bytes may be personal data


def _id3_end(head: bytes) -> int:
    """Offset just past an ID3v2 tag, validating its header (its size is 4 x 7-bit "syncsafe")."""
    if len(head) < 10 or head[3] not in (2, 3, 4) or head[4] == 0xFF:
        raise NotAudio(detail="malformed ID3 header")
    size_bytes = head[6:10]
    if any(b & 0x80 for b in size_bytes):
        raise NotAudio(detail="malformed ID3 size")
    size = 0
    for b in size_bytes:
        size = (size << 7) | b
    footer = 10 if head[5] & 0x10 else 0
    return 10 + size + footer


def _is_mpeg_audio_header(h: bytes) -> bool:
    """An MPEG-1/2/2.5 layer I-III frame header: 11-bit sync and no reserved field values.

    Layer bits 00 are rejected, which also keeps ADTS AAC (same sync word) out.
    """
    if len(h) < 4 or h[0] != 0xFF or h[1] & 0xE0 != 0xE0:
        return False
    version, layer = (h[1] >> 3) & 0b11, (h[1] >> 1) & 0b11
    bitrate, rate = h[2] >> 4, (h[2] >> 2) & 0b11
    return version != 0b01 and layer != 0 and bitrate != 0xF and rate != 0b11 and h[3] & 3 != 2


# --- WAV integrity ---------------------------------------------------------------------------

# Format tags whose data is whole frames of `block_align` bytes: PCM, IEEE float, A-law, mu-law
# and WAVE_FORMAT_EXTENSIBLE (which wraps those).
_FRAME_ALIGNED_TAGS = frozenset({0x0001, 0x0003, 0x0006, 0x0007, 0xFFFE})
_MAX_WAV_CHUNKS = 64
_TRUNCATED_MESSAGE = (
    "The recording is incomplete: the file ends before the sound it announces. The upload may "
    "have been interrupted; please upload the recording again."
)


@dataclass(frozen=True)
class _WavHeader:
    format_tag: int
    channels: int
    sample_rate: int
    byte_rate: int
    block_align: int
    data_size: int
    data_offset: int = 0

    @property
    def is_pcm16(self) -> bool:
        return self.format_tag == 0x0001 and self.block_align == 2 * self.channels

    @property
    def duration_s(self) -> float:
        if self.format_tag in _FRAME_ALIGNED_TAGS:
            return self.data_size / self.block_align / self.sample_rate
        return self.data_size / self.byte_rate if self.byte_rate else 0.0


def _read_wav_header(f: BinaryIO, size: int) -> _WavHeader:
    """Walk the RIFF chunks by seeking, checking every stated size against the file's size.

    FFmpeg plays a WAV whose header claims more data than the file holds, or whose data ends in
    the middle of a frame, without complaint: an upload cut off in transit would be analysed as
    if whole. Only chunk headers and the fmt chunk are read, so a 2-hour WAV costs a few reads.
    A missing or extra final pad byte (a common writer slip) is tolerated.
    """
    f.seek(0)
    riff_end = 8 + struct.unpack_from("<I", f.read(12), 4)[0]
    if riff_end > size + 1:
        raise CorruptAudio(_TRUNCATED_MESSAGE, detail=f"RIFF size {riff_end}, file size {size}")
    if riff_end < size - 1:
        raise CorruptAudio(detail=f"{size - riff_end} bytes after the end of the RIFF chunk")
    fmt, data_size, data_offset, pos = None, None, 0, 12
    for _ in range(_MAX_WAV_CHUNKS):
        if pos + 8 > min(riff_end, size):
            break
        f.seek(pos)
        chunk_id, chunk_size = struct.unpack("<4sI", f.read(8))
        if pos + 8 + chunk_size > size:
            raise CorruptAudio(
                _TRUNCATED_MESSAGE,
                detail=f"{chunk_id!r} chunk claims {chunk_size} bytes, {size - pos - 8} present",
            )
        if chunk_id == b"fmt ":
            fmt = _parse_wav_fmt(f.read(min(chunk_size, 40)))
        elif chunk_id == b"data":
            if fmt is None:
                raise CorruptAudio(detail="WAV data chunk before fmt chunk")
            data_size, data_offset = chunk_size, pos + 8
        pos += 8 + chunk_size + (chunk_size & 1)
    else:
        raise CorruptAudio(detail=f"more than {_MAX_WAV_CHUNKS} RIFF chunks")
    if abs(pos - riff_end) > 1:
        raise CorruptAudio(detail=f"chunks end at {pos}, RIFF chunk at {riff_end}")
    if fmt is None or data_size is None:
        raise CorruptAudio(detail="WAV without fmt or data chunk")
    if fmt.format_tag in _FRAME_ALIGNED_TAGS and data_size % fmt.block_align:
        raise CorruptAudio(
            _TRUNCATED_MESSAGE,
            detail=f"truncated mid-frame: {data_size} data bytes, frames of {fmt.block_align}",
        )
    return replace(fmt, data_size=data_size, data_offset=data_offset)


def _parse_wav_fmt(body: bytes) -> _WavHeader:
    if len(body) < 16:
        raise CorruptAudio(detail=f"fmt chunk of {len(body)} bytes")
    tag, channels, rate, byte_rate, block_align, bits = struct.unpack_from("<HHIIHH", body)
    if not (channels and rate and block_align):
        raise CorruptAudio(detail=f"fmt: {channels} channels, {rate} Hz, block {block_align}")
    if tag in (0x0001, 0x0003) and block_align != channels * ((bits + 7) // 8):
        raise CorruptAudio(detail=f"fmt: block {block_align} for {channels} x {bits} bits")
    return _WavHeader(tag, channels, rate, byte_rate, block_align, data_size=0)


def to_wav(samples: np.ndarray, sample_rate: int) -> bytes:
    """Encode mono float samples in [-1, 1] as 16-bit PCM WAV: the normalised form to store."""
    pcm = np.round(np.clip(samples, -1.0, 1.0) * 32767.0).astype("<i2")
    data = pcm.tobytes()
    header = struct.pack(
        "<4sI4s4sIHHIIHH4sI",
        *(b"RIFF", 36 + len(data), b"WAVE", b"fmt ", 16, 1, 1, sample_rate),
        *(sample_rate * 2, 2, 16, b"data", len(data)),
    )
    return header + data


# --- Decoding --------------------------------------------------------------------------------


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


@dataclass(frozen=True)
class _Limits:
    max_duration_s: float
    min_duration_s: float
    target_rate: int
    allowed_sample_rates: tuple[int, ...] | None
    max_channels: int


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
    limits = _Limits(
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
        container = _sniff_file(f)
        if container == "wav":
            header = _read_wav_header(f, size)
            _check_wav_limits(header, limits)
            if header.is_pcm16 and header.sample_rate == target_rate:
                return _decode_pcm16(f, header, limits)
        f.seek(0)
        return _decode_stream(f, container, limits)


def _check_min_duration(duration_s: float, limits: _Limits) -> None:
    if duration_s < limits.min_duration_s:
        raise RecordingTooShort(
            f"The recording lasts {_seconds(duration_s)}; at least "
            f"{_seconds(limits.min_duration_s)} are needed. Please record for longer.",
            detail=f"{duration_s:.3f} s",
        )


def _decode_pcm16(f: BinaryIO, header: _WavHeader, limits: _Limits) -> DecodedAudio:
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
    _check_min_duration(duration_s, limits)
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


def _sniff_file(f: BinaryIO) -> str:
    f.seek(0)
    head = f.read(SNIFF_BYTES)
    if head[:3] == b"ID3":
        # A tag with cover art can be far longer than the head; look at what follows it.
        tag_end = _id3_end(head)
        if tag_end + 4 > len(head):
            f.seek(tag_end)
            return "flac" if f.read(4) == b"fLaC" else "mp3"
    return sniff(head)


def _check_wav_limits(header: _WavHeader, limits: _Limits) -> None:
    """Apply the limits from a verified WAV header, before FFmpeg reads a single sample."""
    _check_shape(header.sample_rate, header.channels, limits)
    if header.data_size == 0:
        raise EmptyAudio(detail="WAV data chunk is empty")
    if header.duration_s > limits.max_duration_s:
        raise _too_long(limits, header.duration_s)


# Whatever the caller allows: resampling from a header's absurd rate (a corrupt WAV claiming
# 1.6 GHz) costs seconds of CPU for no sound.
_SANE_SAMPLE_RATES = range(4000, 192_001)


def _check_shape(sample_rate: int, channels: int, limits: _Limits) -> None:
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


def _too_long(limits: _Limits, duration_s: float | None = None) -> RecordingTooLong:
    limit = _seconds(limits.max_duration_s)
    if duration_s is None:
        message = f"The recording is longer than the limit of {limit}."
    else:
        message = f"The recording lasts {_seconds(duration_s)}; the limit is {limit}."
    return RecordingTooLong(
        f"{message} Please upload a shorter recording.",
        detail=f"more than {limits.max_duration_s} s",
    )


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


def _decode_stream(f: BinaryIO, container: str, limits: _Limits) -> DecodedAudio:
    demuxer = _CONTAINERS[container][0]
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
                _check_shape(context.sample_rate, context.channels, limits)
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
            _TRUNCATED_MESSAGE, detail=f"decoded {decoded_s:.3f} s of {declared_s:.3f} s"
        )
    if samples.size == 0 or first is None:
        raise EmptyAudio(detail="no samples decoded")
    if not np.isfinite(samples).all():  # float WAVs can hold NaN and infinity
        raise CorruptAudio(detail="non-finite sample values")
    duration_s = samples.size / limits.target_rate
    _check_min_duration(duration_s, limits)
    return DecodedAudio(
        samples=samples,
        sample_rate=limits.target_rate,
        original_sample_rate=first.sample_rate,
        channels=first.layout.nb_channels,
        duration_s=duration_s,
        container=container,
        codec=codec,
    )


def _decode_frames(
    box: av.container.InputContainer, stream: av.AudioStream, limits: _Limits
) -> tuple[np.ndarray, float, av.AudioFrame | None]:
    """Decode until the end or until past the limit; return samples, seconds decoded, 1st frame."""
    mixer = _MonoMixer(limits.target_rate)
    first = None
    decoded_s = 0.0
    for frame in box.decode(stream):
        if first is None:
            first = frame
            _check_shape(frame.sample_rate, frame.layout.nb_channels, limits)
        decoded_s += frame.samples / frame.sample_rate
        if decoded_s > limits.max_duration_s:
            raise _too_long(limits)
        mixer.add(frame)
    return mixer.finish(), decoded_s, first


# FFmpeg sample formats (native byte order) as NumPy dtypes; others go frame by frame.
_SAMPLE_DTYPES = {
    **dict.fromkeys(("u8", "u8p"), np.uint8),
    **dict.fromkeys(("s16", "s16p"), np.int16),
    **dict.fromkeys(("s32", "s32p"), np.int32),
    **dict.fromkeys(("flt", "fltp"), np.float32),
    **dict.fromkeys(("dbl", "dblp"), np.float64),
}


def _planes(frame: av.AudioFrame) -> list[np.ndarray]:
    """Views of a frame's planes (4x cheaper than `to_ndarray`, which matters at 250 frames)."""
    dtype = _SAMPLE_DTYPES[frame.format.name]
    count = frame.samples * (1 if frame.format.is_planar else frame.layout.nb_channels)
    return [np.frombuffer(plane, dtype=dtype, count=count) for plane in frame.planes]


# Decoded audio is resampled in batches of this many seconds: large enough that the resampler's
# fixed cost per call does not show, small enough that a long upload is never held decoded whole.
MIXER_BATCH_SECONDS = 2


class _MonoMixer:
    """Turns decoded frames into one mono float32 signal at the target rate.

    Frames are batched and resampled in one call per run of like frames: the resampler's fixed
    cost per call is larger than the work for a 20 ms frame. Channels are averaged in NumPy
    rather than by the resampler, whose stereo-to-mono matrix adds them at -3 dB: in-phase
    stereo at 0.8 would come out at 1.13 and look clipped.
    """

    def __init__(self, rate: int) -> None:
        self._rate = rate
        self._pieces: list[np.ndarray] = []
        self._batch: list[av.AudioFrame] = []
        self._batched = 0  # samples per channel waiting in the batch
        self._shape: tuple[str, str, int] | None = None
        self._resampler: av.AudioResampler | None = None

    def add(self, frame: av.AudioFrame) -> None:
        shape = (frame.format.name, frame.layout.name, frame.sample_rate)
        if shape != self._shape:
            self._flush(last=True)
            self._shape = shape
            self._resampler = av.AudioResampler(format="fltp", rate=self._rate)
        self._batch.append(frame)
        self._batched += frame.samples
        if self._batched >= frame.sample_rate * MIXER_BATCH_SECONDS:
            self._flush(last=False)  # bounded memory: a long file never sits decoded whole

    def finish(self) -> np.ndarray:
        self._flush(last=True)
        if not self._pieces:
            return np.zeros(0, dtype=np.float32)
        return np.concatenate(self._pieces)

    def _flush(self, *, last: bool) -> None:
        """Resample the batch; ``last`` also drains the resampler (the run of like frames ends).
        One resampler per run keeps its filter state across batches, so batching never shows."""
        if self._resampler is None:
            return
        frames = self._batch
        if frames and frames[0].format.name in _SAMPLE_DTYPES and len(frames) > 1:
            template = frames[0]
            per_plane = zip(*(_planes(frame) for frame in frames), strict=True)
            merged = np.stack([np.concatenate(plane) for plane in per_plane])
            joined = av.AudioFrame.from_ndarray(
                merged, format=template.format, layout=template.layout
            )
            joined.sample_rate = template.sample_rate
            frames = [joined]
        out = [o for frame in frames for o in self._resampler.resample(frame)]
        if last:
            out += self._resampler.resample(None)
            self._resampler = None
        self._batch, self._batched = [], 0
        if out:
            planes = np.concatenate([o.to_ndarray() for o in out], axis=1)
            mono = planes[0] if planes.shape[0] == 1 else planes.mean(axis=0, dtype=np.float32)
            self._pieces.append(np.ascontiguousarray(mono, dtype=np.float32))
