"""The one place that opens uploaded audio: sniffing, integrity checks, decoding, normalisation.

Every surface that accepts a recording (the clinician page, `POST /api/v1/recordings/`, the
direct-to-storage completion step, integrity jobs) hands the bytes to `decode()`, which either
returns 16 kHz mono float32 samples or raises one `AudioRejected` subclass (`rejections`), whose
`code`, `kind` and `message` that `portal.core.errors` maps in one place.

The parts: `sniffing` (the container, from magic bytes only), `wav` (the WAV header verified
before decoding, and the WAV the portal stores), `checks` (the limits), `decoding` (PyAV, and the
fast path for 16-bit PCM) and `mixing` (frames to one mono signal at the analysis rate).

This package imports no Django: every limit is an argument, and the Django side passes its settings.
"""

from media_assets.audio.decoding import DecodedAudio, decode
from media_assets.audio.rejections import (
    AudioRejected,
    CorruptAudio,
    EmptyAudio,
    NotAudio,
    RecordingTooLarge,
    RecordingTooLong,
    RecordingTooShort,
    RecordingTooShortForKind,
    UnsupportedFormat,
)
from media_assets.audio.sniffing import CONTENT_TYPES, SNIFF_BYTES, STORAGE_EXTENSIONS, sniff
from media_assets.audio.wav import to_wav

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
    "RecordingTooShortForKind",
    "UnsupportedFormat",
    "decode",
    "sniff",
    "to_wav",
]
