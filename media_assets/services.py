"""Every write about recordings and their stored objects.

The rule that keeps storage and database consistent: a row names an object before the object is
written. An upload the server writes itself first commits a *pending* row with its storage key
(``open_server_upload``), then writes the object while it holds that row locked
(``hold_upload``), and turns the row into a stored recording in the same transaction. A crash
anywhere in between leaves at worst a pending row (with or without its object) that no live upload
holds, which ``reconcile_storage`` finds at once (``media_assets.maintenance``); a failure that the
process survives removes both (``abandon_upload``). A stored recording therefore always has its
object, and no object is ever left that no row names. The "store, then diagnose" workflow that wraps
these steps lives in ``diagnostics.services``.
"""

import hashlib
import logging
import tempfile
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import PurePosixPath, PureWindowsPath

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import DatabaseError
from django.db.models import Q
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.translation import gettext as _

from media_assets import audio
from media_assets.errors import StorageUnavailable, UploadClosed, UploadMismatch, UploadNotReceived
from media_assets.models import (
    MIN_SECONDS_BY_KIND,
    MIN_SECONDS_SLACK,
    Recording,
    RecordingKind,
    RecordingStatus,
)
from media_assets.quality import Quality, measure_quality
from media_assets.storage import object_size, open_object
from media_assets.storage_breaker import admit_storage_write, storage_call
from portal.core.models import Patient, Site
from portal.core.storage import STORAGE_ERRORS

logger = logging.getLogger(__name__)

HASH_CHUNK = 1024 * 1024


@dataclass(frozen=True, eq=False)
class InspectedAudio:
    """What the checks learned about an upload, before anything is stored."""

    sha256: str
    size_bytes: int
    decoded: audio.DecodedAudio
    quality: Quality

    @property
    def extension(self) -> str:
        return audio.STORAGE_EXTENSIONS[self.decoded.container]

    @property
    def content_type(self) -> str:
        return audio.CONTENT_TYPES[self.decoded.container]


def hash_file(file) -> tuple[str, int]:
    """sha256 and size of a file object, read in chunks from its start."""
    digest = hashlib.sha256()
    size = 0
    file.seek(0)
    while chunk := file.read(HASH_CHUNK):
        digest.update(chunk)
        size += len(chunk)
    file.seek(0)
    return digest.hexdigest(), size


def inspect_audio(*, file, kind: str | None = None) -> InspectedAudio:
    """Hash, size-check, decode and measure an upload; raises ``audio.AudioRejected``. With
    ``kind``, a recording shorter than that kind's minimum (``MIN_SECONDS_BY_KIND``, the page's
    recorder's) is refused too: ``RecordingTooShortForKind``."""
    sha256, size = hash_file(file)
    if size > settings.RECORDING_MAX_BYTES:
        raise audio.RecordingTooLarge(
            f"The file is larger than the {settings.RECORDING_MAX_BYTES // (1024 * 1024)} MB limit."
        )
    decoded = audio.decode(
        file,
        max_duration_s=settings.RECORDING_MAX_SECONDS,
        min_duration_s=settings.RECORDING_MIN_SECONDS,
        target_rate=settings.ANALYSIS_SAMPLE_RATE,
        allowed_sample_rates=settings.RECORDING_SAMPLE_RATES,
        max_channels=settings.RECORDING_MAX_CHANNELS,
    )
    file.seek(0)
    if kind is not None:
        check_kind_minimum(kind=kind, duration_s=decoded.duration_s)
    return InspectedAudio(
        sha256=sha256,
        size_bytes=size,
        decoded=decoded,
        quality=measure_quality(decoded.samples, decoded.sample_rate),
    )


def check_kind_minimum(*, kind: str, duration_s: float) -> None:
    """Refuse a recording shorter than its kind needs (a little slack for the encoder)."""
    minimum = MIN_SECONDS_BY_KIND.get(kind, 0)
    if duration_s >= minimum - MIN_SECONDS_SLACK:
        return
    raise audio.RecordingTooShortForKind(
        _(
            "This %(kind)s recording lasts %(seconds)s seconds; at least %(minimum)s seconds "
            "are needed. Please record for longer."
        )
        % {
            "kind": RecordingKind(kind).label.lower(),
            "seconds": number_format(duration_s, 1),
            "minimum": number_format(minimum),
        },
        detail=f"{kind} {duration_s:.3f} s < {minimum} s",
    )


def recording_key(*, site: Site, extension: str, now=None) -> str:
    """``recordings/<site>/<yyyy>/<mm>/<uuid>.<ext>``: unguessable, and nothing user-supplied."""
    now = now or timezone.now()
    return f"recordings/{site.code}/{now:%Y}/{now:%m}/{uuid.uuid4().hex}.{extension}"


AUDIO_EXTENSIONS = frozenset({"wav", "flac", "ogg", "opus", "webm", "mp3", "m4a", "mp4", "aac"})


def clean_original_name(name: str | None) -> str:
    """All that is kept of an uploaded file's name: its extension, when it is an audio one
    (``".wav"``), else nothing. The rest is whatever a recorder or a person typed, often the
    patient's name and birth date, so it is never stored."""
    base = PureWindowsPath(PurePosixPath(name or "").name).name
    suffix = PurePosixPath(base).suffix.lower()
    return suffix if suffix.lstrip(".") in AUDIO_EXTENSIONS else ""


def find_stored_duplicate(*, patient: Patient, sha256: str) -> Recording | None:
    return Recording.objects.filter(
        patient=patient, sha256=sha256, status=RecordingStatus.STORED
    ).first()


def put_object(*, key: str, file) -> str:
    """Write ``file`` under ``key``, before any row names it; raises ``StorageUnavailable``."""
    file.seek(0)
    try:
        with storage_call():
            saved = default_storage.save(key, File(file, name=key))
    except STORAGE_ERRORS as exc:
        logger.warning("storage write failed", extra={"error": type(exc).__name__})
        raise StorageUnavailable from exc
    if saved != key:  # a storage that renamed the object would break the key's uniqueness
        discard_object(saved)
        raise StorageUnavailable
    return saved


def discard_object(key: str) -> None:
    """Remove an object whose row did not commit; failure here is left to ``reconcile_storage``.
    While the store's breaker is open nothing is tried (the write it follows failed or was
    refused), and a failure here does not count towards opening it: the write's failure did."""
    try:
        admit_storage_write()
        default_storage.delete(key)
    except Exception:
        logger.warning("could not remove an uncommitted object", extra={"key": key})


def open_server_upload(
    *, patient: Patient, kind: str, inspected: InspectedAudio, original_name: str, user
) -> Recording:
    """The pending row of an upload the server writes itself, committed before its object is
    written, so that a crash while writing leaves a row that names the object.

    Its checked content type tells it from a direct upload's pending row (whose bytes are checked
    only when the client completes it): ``IN_REQUEST_UPLOADS``.
    """
    return Recording.objects.create(
        patient=patient,
        kind=kind,
        status=RecordingStatus.PENDING,
        storage_key=recording_key(site=patient.site, extension=inspected.extension),
        original_name=clean_original_name(original_name),
        content_type=inspected.content_type,
        size_bytes=inspected.size_bytes,
        sha256=inspected.sha256,
        uploaded_by=user if user is not None and user.is_authenticated else None,
    )


# Pending rows whose bytes the server checked and is writing within a request (direct uploads'
# pending rows get their content type only when completed).
IN_REQUEST_UPLOADS = Q(status=RecordingStatus.PENDING) & ~Q(content_type="")


def hold_upload(recording: Recording) -> Recording:
    """Lock an upload's pending row for the caller's transaction: while it is held the upload is
    live, and ``reconcile_storage`` leaves it alone; a process that dies lets go of it."""
    return Recording.objects.select_for_update().get(pk=recording.pk)


def abandon_upload(recording: Recording) -> None:
    """Remove an upload that did not become a stored recording: its object, then its pending row.
    Whatever cannot be removed now is left to ``reconcile_storage``, which finds it at once."""
    discard_object(recording.storage_key)
    try:
        Recording.objects.filter(pk=recording.pk, status=RecordingStatus.PENDING).delete()
    except DatabaseError:
        logger.warning("could not remove an abandoned upload", extra={"recording": recording.pk})


# --- Direct uploads (straight to object storage) ------------------------------------------------------------


def _declared_extension(original_name: str) -> str:
    return clean_original_name(original_name).lstrip(".") or "bin"


def create_pending_upload(
    *, patient: Patient, kind: str, size_bytes: int, sha256: str, original_name: str, user
) -> Recording:
    """Open a direct upload: a pending row whose object the client will PUT."""
    if size_bytes > settings.RECORDING_MAX_BYTES:
        raise audio.RecordingTooLarge(
            f"The file is larger than the {settings.RECORDING_MAX_BYTES // (1024 * 1024)} MB limit."
        )
    name = clean_original_name(original_name)
    return Recording.objects.create(
        patient=patient,
        kind=kind,
        status=RecordingStatus.PENDING,
        storage_key=recording_key(site=patient.site, extension=_declared_extension(name)),
        original_name=name,
        size_bytes=size_bytes,
        sha256=sha256.lower(),
        uploaded_by=user if user is not None and user.is_authenticated else None,
    )


def receive_upload_content(*, recording: Recording, stream) -> None:
    """Store the body of ``PUT /api/v1/uploads/{id}/content`` (filesystem storage's target)."""
    if recording.status != RecordingStatus.PENDING:
        raise UploadClosed
    admit_storage_write()  # before the body is read
    with tempfile.TemporaryFile() as spool:
        received = 0
        while chunk := stream.read(HASH_CHUNK):
            received += len(chunk)
            if received > recording.size_bytes:
                raise UploadMismatch(
                    "size_mismatch", "The file is larger than the size declared for this upload."
                )
            spool.write(chunk)
        if received == 0:
            raise UploadMismatch("empty_upload", "The request carried no file bytes.")
        discard_object(recording.storage_key)  # a repeated PUT replaces the earlier bytes
        put_object(key=recording.storage_key, file=spool)


@contextmanager
def fetch_uploaded_object(*, recording: Recording):
    """The uploaded bytes in a local temporary file, verified against the declared size and hash.

    A mismatch removes the object and leaves the upload pending, so the client can PUT again.
    """
    try:
        with storage_call():
            size = object_size(recording.storage_key)
    except STORAGE_ERRORS as exc:
        raise StorageUnavailable from exc
    if size is None:
        raise UploadNotReceived
    if size != recording.size_bytes:
        discard_object(recording.storage_key)
        raise UploadMismatch(
            "size_mismatch",
            f"The uploaded file has {size} bytes but {recording.size_bytes} were declared.",
        )
    with tempfile.TemporaryFile() as local:
        try:
            with storage_call(), open_object(recording.storage_key) as remote:
                while chunk := remote.read(HASH_CHUNK):
                    local.write(chunk)
        except STORAGE_ERRORS as exc:
            raise StorageUnavailable from exc
        sha256, _ = hash_file(local)
        if sha256 != recording.sha256:
            discard_object(recording.storage_key)
            raise UploadMismatch(
                "hash_mismatch", "The uploaded file does not match the sha256 declared for it."
            )
        yield local


def reject_upload(*, recording: Recording, error: audio.AudioRejected) -> None:
    """An uploaded object that is not usable audio: remove it, keep the row as a rejected attempt."""
    discard_object(recording.storage_key)
    Recording.objects.filter(pk=recording.pk).update(
        status=RecordingStatus.REJECTED, quality={"rejected": error.code}
    )


def discard_pending_upload(*, recording: Recording) -> None:
    discard_object(recording.storage_key)
    Recording.objects.filter(pk=recording.pk, status=RecordingStatus.PENDING).delete()


def mark_upload_stored(*, recording: Recording, inspected: InspectedAudio) -> Recording:
    """Turn a pending upload whose object is written and checked into a stored recording (inside
    the caller's transaction)."""
    decoded = inspected.decoded
    recording.status = RecordingStatus.STORED
    recording.content_type = inspected.content_type
    recording.duration_s = round(decoded.duration_s, 3)
    recording.sample_rate = decoded.original_sample_rate
    recording.channels = decoded.channels
    recording.quality = inspected.quality.as_dict()
    recording.stored_at = timezone.now()
    recording.save()
    return recording
