"""The few storage operations recordings need, the same for local files and S3.

Django's storage API covers saving, opening, sizes and deletion; what it lacks (a presigned PUT for
direct uploads, listing every object under a prefix with its age) is added here for both backends,
so no other module asks which backend is configured.
"""

import errno
import hashlib
import io
import os
import stat
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import PurePosixPath

from django.conf import settings
from django.core.files.storage import default_storage
from django.urls import reverse

from media_assets import audio

RECORDINGS_PREFIX = "recordings/"


def derived_key(storage_key: str, *, prefix: str, suffix: str) -> str:
    """Where an object made from a recording lives (its picture, its research copy): the
    original's unguessable key under another prefix, with another extension. Outside
    ``recordings/``, so the storage reconciliation, which reads that prefix, leaves it alone."""
    stem = PurePosixPath(storage_key.removeprefix(RECORDINGS_PREFIX)).with_suffix("")
    return f"{prefix}{stem}{suffix}"


# --- Reading with a deadline ----------------------------------------------------------------------
# A read that hangs (a FIFO or a device where a file was, a hung mount, an object store that stops
# sending) must fail its recording alone, within STORAGE_READ_TIMEOUT_S, and give its thread back.
# A blocked open() of a FIFO cannot be interrupted in a thread, so a local file is first opened
# without blocking and must be a regular file; S3's client has connect and read timeouts
# (settings); and the whole read has a deadline, checked between chunks.

READ_CHUNK = 1024 * 1024


class UnreadableObject(OSError):
    """The stored object is not a regular file (a FIFO, a device, a directory)."""


class ReadDeadlineExceeded(TimeoutError):
    """Reading the stored object took longer than ``STORAGE_READ_TIMEOUT_S``."""


def open_object(key: str):
    """A stored object opened for reading, through the storage (whatever wraps it); raises
    ``UnreadableObject`` at once for a local path that is not a regular file."""
    _refuse_irregular_file(key)
    return default_storage.open(key, "rb")


def read_object(key: str, *, timeout_s: float | None = None) -> bytes:
    """A stored object's bytes, read within ``timeout_s`` (``STORAGE_READ_TIMEOUT_S``) or
    ``ReadDeadlineExceeded``."""
    timeout_s = settings.STORAGE_READ_TIMEOUT_S if timeout_s is None else timeout_s
    deadline = time.monotonic() + timeout_s
    buffer = io.BytesIO()
    with open_object(key) as handle:
        while chunk := handle.read(READ_CHUNK):
            buffer.write(chunk)
            if time.monotonic() > deadline:
                raise ReadDeadlineExceeded(errno.ETIMEDOUT, "storage read past its deadline")
    return buffer.getvalue()


def _refuse_irregular_file(key: str) -> None:
    if is_s3():
        return
    try:
        path = default_storage.path(key)
    except NotImplementedError:
        return
    descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # never waits for a FIFO's writer
    try:
        mode = os.fstat(descriptor).st_mode
    finally:
        os.close(descriptor)
    if not stat.S_ISREG(mode):
        raise UnreadableObject(errno.EINVAL, "the stored object is not a regular file")


def analysis_audio(storage_key: str) -> audio.DecodedAudio:
    """A stored recording decoded to the analysis signal (mono, ``ANALYSIS_SAMPLE_RATE``): what
    the model, the spectrogram, the research copy and the recommender's embeddings all start
    from, read within the storage deadline. Raises ``audio``'s ``AudioRejected`` (not for a
    recording the upload accepted) or a storage error (``STORAGE_ERRORS``)."""
    return _analysis_signal(read_object(storage_key))


class ChangedObject(Exception):
    """A stored object's bytes no longer have the sha256 recorded when it was stored."""


def verified_analysis_audio(storage_key: str, *, sha256: str) -> audio.DecodedAudio:
    """``analysis_audio`` of an object whose bytes must still have ``sha256`` (a training run's
    frozen snapshot); raises ``ChangedObject`` otherwise."""
    data = read_object(storage_key)
    if hashlib.sha256(data).hexdigest() != sha256:
        raise ChangedObject(f"stored object {storage_key} no longer has sha256 {sha256}")
    return _analysis_signal(data)


def _analysis_signal(data: bytes) -> audio.DecodedAudio:
    return audio.decode(
        io.BytesIO(data), max_duration_s=settings.RECORDING_MAX_SECONDS,
        min_duration_s=0, target_rate=settings.ANALYSIS_SAMPLE_RATE,
    )  # fmt: skip


@dataclass(frozen=True)
class UploadTarget:
    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)


def is_s3() -> bool:
    return settings.STORAGE_BACKEND == "s3"


def upload_target(
    *, recording_id: int, key: str, size_bytes: int, content_type: str
) -> UploadTarget:
    """Where a client PUTs the bytes of a direct upload: S3 itself, or this app's content view."""
    if not is_s3():
        return UploadTarget("PUT", reverse("upload-content", args=[recording_id]))
    params = {
        "Bucket": default_storage.bucket_name,
        "Key": default_storage._normalize_name(key),
        "ContentLength": size_bytes,
        "ContentType": content_type,
    }
    headers = {"Content-Type": content_type}
    sse = default_storage.object_parameters or {}
    if sse.get("ServerSideEncryption"):
        params["ServerSideEncryption"] = sse["ServerSideEncryption"]
        headers["x-amz-server-side-encryption"] = sse["ServerSideEncryption"]
    if sse.get("SSEKMSKeyId"):
        params["SSEKMSKeyId"] = sse["SSEKMSKeyId"]
        headers["x-amz-server-side-encryption-aws-kms-key-id"] = sse["SSEKMSKeyId"]
    url = default_storage.connection.meta.client.generate_presigned_url(
        "put_object", Params=params, ExpiresIn=settings.DIRECT_UPLOAD_EXPIRE_S
    )
    return UploadTarget("PUT", url, headers)


def object_size(key: str) -> int | None:
    """The stored object's size, or None when there is no object under ``key``."""
    if not default_storage.exists(key):
        return None
    return default_storage.size(key)


def iter_objects(prefix: str = RECORDINGS_PREFIX):
    """Yield ``(key, last_modified)`` for every object under ``prefix``."""
    if is_s3():
        bucket = default_storage.bucket
        for summary in bucket.objects.filter(Prefix=default_storage._normalize_name(prefix)):
            yield summary.key, summary.last_modified
        return
    root = default_storage.path("")
    base = os.path.join(root, prefix)
    for directory, _dirs, files in os.walk(base):
        for name in files:
            path = os.path.join(directory, name)
            key = os.path.relpath(path, root).replace(os.sep, "/")
            modified = datetime.fromtimestamp(os.stat(path).st_mtime, tz=UTC)
            yield key, modified
