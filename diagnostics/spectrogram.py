"""The spectrogram picture of a recording: the model's own log-mel features, as a PNG.

Rendered once per recording by a ``maintenance`` task that the inference worker sends with its
results (and a periodic job for any left without one), stored next to
the recording (``spectrograms/`` + the recording's unguessable key), and served by
``media_assets.views.recording_spectrogram`` with the audio's permission checks; open pages of
the patient hear of it live (``diagnostics.live.publish_spectrogram``). The features
come from ``diagnostics.ml.features``, the front end the model is trained and run on, so what a
clinician sees is what the model heard (low frequencies at the bottom, time left to right). It is
drawn in NumPy (``log_mel_frames``) and written as a PNG here, so the maintenance worker that
renders it never loads TensorFlow.
"""

import logging
import struct
import zlib
from datetime import timedelta

import numpy as np
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from diagnostics import live
from media_assets import audio
from media_assets.models import Recording, RecordingStatus
from media_assets.storage import analysis_audio, derived_key

logger = logging.getLogger(__name__)

SPECTROGRAMS_PREFIX = "spectrograms/"
DYNAMIC_RANGE_DB = 80.0
# A perceptually even dark-blue -> teal -> yellow ramp (anchors of viridis), interpolated.
_ANCHORS = np.array(
    [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]], dtype=np.float32
)
PALETTE = np.stack(
    [np.interp(np.linspace(0, 4, 256), np.arange(5), _ANCHORS[:, c]) for c in range(3)], axis=1
).astype(np.uint8)


def spectrogram_key(recording: Recording) -> str:
    return derived_key(recording.storage_key, prefix=SPECTROGRAMS_PREFIX, suffix=".png")


def image(samples: np.ndarray, config=None) -> np.ndarray:
    """[n_mels, frames, 3] uint8 colours of the log-mel power: 0 dB at the loudest cell, the
    palette's darkest at -80 dB and below."""
    from diagnostics.ml.features import FeatureConfig, log_mel_frames

    config = config or FeatureConfig(sample_rate=settings.ANALYSIS_SAMPLE_RATE)
    samples = np.asarray(samples, dtype=np.float32)
    if samples.shape[0] < config.window:
        samples = np.pad(samples, (0, config.window - samples.shape[0]))
    mel = log_mel_frames(samples, config)  # [frames, n_mels], natural log
    db = 10.0 * mel / np.log(10.0)
    level = np.clip((db - db.max() + DYNAMIC_RANGE_DB) / DYNAMIC_RANGE_DB, 0.0, 1.0)
    indices = np.round(level * 255).astype(np.uint8)
    return PALETTE[indices.T[::-1]]  # low frequencies at the bottom


def encode_png(pixels: np.ndarray) -> bytes:
    """[height, width, 3] uint8 as an 8-bit RGB PNG: rows unfiltered (PNG's "up" filter made the
    pictures larger) and deflated at level 3 (as small as level 6 on them, in a third of the
    time)."""
    height, width, channels = pixels.shape
    if channels != 3 or pixels.dtype != np.uint8:
        raise ValueError(f"expected [height, width, 3] uint8, got {pixels.shape} {pixels.dtype}")
    rows = np.zeros((height, 1 + width * 3), dtype=np.uint8)  # each row: filter type 0, pixels
    rows[:, 1:] = pixels.reshape(height, width * 3)

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB, no interlace
    return b"".join((
        b"\x89PNG\r\n\x1a\n", chunk(b"IHDR", header),
        chunk(b"IDAT", zlib.compress(rows.tobytes(), 3)), chunk(b"IEND", b""),
    ))  # fmt: skip


def render(recording_id: int) -> str | None:
    """Render and store the picture of a stored recording; its key, or None when there is
    nothing to do (already rendered, not stored). Idempotent: a retry overwrites one object."""
    recording = Recording.objects.filter(pk=recording_id, status=RecordingStatus.STORED).first()
    if recording is None or recording.spectrogram_key:
        return None
    decoded = analysis_audio(recording.storage_key)
    png = encode_png(image(decoded.samples))
    key = spectrogram_key(recording)
    if default_storage.exists(key):
        default_storage.delete(key)
    saved = default_storage.save(key, ContentFile(png))
    with transaction.atomic():
        updated = Recording.objects.filter(pk=recording.pk, spectrogram_key="").update(
            spectrogram_key=saved
        )
    if not updated:
        default_storage.delete(saved)
        return saved
    live.publish_spectrogram(recording)
    return saved


def missing(limit: int = 200, days: int = 2) -> list[int]:
    """Recent stored recordings without a picture (a render message that was lost, or one that
    failed); older ones are left alone, so undecodable audio is not tried forever."""
    since = timezone.now() - timedelta(days=days)
    return list(
        Recording.objects.filter(
            status=RecordingStatus.STORED, spectrogram_key="", created_at__gte=since
        )
        .order_by("-id")
        .values_list("pk", flat=True)[:limit]
    )


AUDIO_REJECTED = audio.AudioRejected
