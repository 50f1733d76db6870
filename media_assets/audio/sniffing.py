"""Recognising a file's container from its first bytes, and nothing else.

The file name and the declared content type are never trusted. The container named here also
chooses FFmpeg's demuxer, so FFmpeg never probes its way into formats we did not mean to accept
(playlists, images, subtitles).
"""

from __future__ import annotations

from types import MappingProxyType
from typing import BinaryIO

from media_assets.audio.rejections import NotAudio

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
DEMUXERS = MappingProxyType({name: demuxer for name, (demuxer, _, _) in _CONTAINERS.items()})
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


def sniff_file(f: BinaryIO) -> str:
    """`sniff` for a seekable file, which can also look past an ID3 tag longer than the head."""
    f.seek(0)
    head = f.read(SNIFF_BYTES)
    if head[:3] == b"ID3":
        # A tag with cover art can be far longer than the head; look at what follows it.
        tag_end = _id3_end(head)
        if tag_end + 4 > len(head):
            f.seek(tag_end)
            return "flac" if f.read(4) == b"fLaC" else "mp3"
    return sniff(head)


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
