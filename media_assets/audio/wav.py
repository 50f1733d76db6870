"""The WAV header, verified before a sample is decoded, and the WAV the portal stores.

FFmpeg plays a WAV whose header claims more data than the file holds, or whose data ends in the
middle of a frame, without complaint: an upload cut off in transit would be analysed as if whole.
So the RIFF chunks are walked here first, every stated size checked against the file's; the header
also gives a WAV's length without decoding it, and lets 16-bit PCM skip FFmpeg altogether.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, replace
from typing import BinaryIO

import numpy as np

from media_assets.audio.rejections import TRUNCATED_MESSAGE, CorruptAudio

# Format tags whose data is whole frames of `block_align` bytes: PCM, IEEE float, A-law, mu-law
# and WAVE_FORMAT_EXTENSIBLE (which wraps those).
_FRAME_ALIGNED_TAGS = frozenset({0x0001, 0x0003, 0x0006, 0x0007, 0xFFFE})
_MAX_WAV_CHUNKS = 64


@dataclass(frozen=True)
class WavHeader:
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


def read_wav_header(f: BinaryIO, size: int) -> WavHeader:
    """Walk the RIFF chunks by seeking, checking every stated size against the file's size.

    Only chunk headers and the fmt chunk are read, so a 2-hour WAV costs a few reads. A missing
    or extra final pad byte (a common writer slip) is tolerated.
    """
    f.seek(0)
    riff_end = 8 + struct.unpack_from("<I", f.read(12), 4)[0]
    if riff_end > size + 1:
        raise CorruptAudio(TRUNCATED_MESSAGE, detail=f"RIFF size {riff_end}, file size {size}")
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
                TRUNCATED_MESSAGE,
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
            TRUNCATED_MESSAGE,
            detail=f"truncated mid-frame: {data_size} data bytes, frames of {fmt.block_align}",
        )
    return replace(fmt, data_size=data_size, data_offset=data_offset)


def _parse_wav_fmt(body: bytes) -> WavHeader:
    if len(body) < 16:
        raise CorruptAudio(detail=f"fmt chunk of {len(body)} bytes")
    tag, channels, rate, byte_rate, block_align, bits = struct.unpack_from("<HHIIHH", body)
    if not (channels and rate and block_align):
        raise CorruptAudio(detail=f"fmt: {channels} channels, {rate} Hz, block {block_align}")
    if tag in (0x0001, 0x0003) and block_align != channels * ((bits + 7) // 8):
        raise CorruptAudio(detail=f"fmt: block {block_align} for {channels} x {bits} bits")
    return WavHeader(tag, channels, rate, byte_rate, block_align, data_size=0)


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
