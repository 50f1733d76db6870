"""The local file storage, encrypted at rest (``STORAGE_BACKEND=local``).

Django's ``FileSystemStorage`` with every object sealed by ``media_assets.encryption`` on its way to
disk and opened through a decrypting, seekable reader: recordings, research copies, spectrograms,
model artifacts and index snapshots alike, so no caller of ``default_storage`` decides what is
encrypted. Files are created 0600 (``FILE_UPLOAD_PERMISSIONS``) from their first byte, not
chmod-ed afterwards. ``size()`` is the plaintext's, which the direct-upload check compares with
the declared size. The key ring is ``settings.STORAGE_ENCRYPTION_KEYS`` (read on each use, so a
test or a reloaded setting takes effect without a new storage object).

On S3 there is nothing of this: objects are encrypted by S3 itself (SSE-KMS), and presigned links
are decrypted server-side.
"""

import os
import uuid
from collections.abc import Iterator
from functools import lru_cache

from django.conf import settings
from django.core.files import File
from django.core.files.storage import FileSystemStorage
from django.utils._os import safe_makedirs

from media_assets.encryption import (
    CHUNK_SIZE,
    DecryptingReader,
    KeyRing,
    NotEncrypted,
    encrypted_chunks,
    read_header,
)

# What ``reencrypt`` did to one object.
CURRENT = "current"  # already under the ring's first key
REENCRYPTED = "reencrypted"  # moved from an older key
ENCRYPTED = "encrypted"  # was a plain file (written before encryption at rest)
CHANGED = "changed"  # rewritten by someone else meanwhile: left alone, the next run looks again
TEMPORARY_SUFFIX = ".reencrypting"


@lru_cache(maxsize=4)
def key_ring(text: str) -> KeyRing:
    return KeyRing.parse(text)


class EncryptedFileSystemStorage(FileSystemStorage):
    def __init__(self, *args, keys: str | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._keys = keys

    @property
    def key_ring(self) -> KeyRing:
        return key_ring(self._keys or settings.STORAGE_ENCRYPTION_KEYS)

    def _open(self, name, mode="rb"):
        if any(flag in mode for flag in "wa+"):
            raise ValueError("Encrypted storage opens objects for reading only; save() writes.")
        raw = open(self.path(name), "rb")  # noqa: SIM115 - the reader owns and closes it
        return File(DecryptingReader(raw, self.key_ring, name=name), name)

    def _save(self, name, content):
        directory = os.path.dirname(self.path(name))
        safe_makedirs(directory, self.directory_permissions_mode or 0o700, exist_ok=True)
        while True:
            full_path = self.path(name)
            try:
                fd = os.open(full_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, self._file_mode)
            except FileExistsError:
                name = self.get_available_name(name)
                continue
            with os.fdopen(fd, "wb") as target:
                for piece in encrypted_chunks(content.chunks(), self.key_ring):
                    target.write(piece)
            break
        return os.path.relpath(full_path, self.location).replace(os.sep, "/")

    @property
    def _file_mode(self) -> int:
        return self.file_permissions_mode or 0o600

    def size(self, name) -> int:
        with self.open(name) as handle:
            return handle.size

    def reencrypt(self, name: str) -> str:
        """Rewrite one object under the ring's first key, atomically (a new file renamed over the
        old, keeping its modification time). Raises ``StoredObjectUnreadable`` for an object no
        key of the ring opens, and leaves it as it was."""
        path = self.path(name)
        ring = self.key_ring
        with open(path, "rb") as raw:
            before = os.fstat(raw.fileno())
            try:
                header = read_header(raw)
            except NotEncrypted:
                header = None
            if header is not None and header.key_id == ring.primary_id:
                return CURRENT
            raw.seek(0)
            source = DecryptingReader(raw, ring, name=name) if header else raw
            temporary = f"{path}.{uuid.uuid4().hex[:8]}{TEMPORARY_SUFFIX}"
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, self._file_mode)
            try:
                with os.fdopen(fd, "wb") as target:
                    pieces = iter(lambda: source.read(CHUNK_SIZE), b"")
                    for piece in encrypted_chunks(pieces, ring):
                        target.write(piece)
                    target.flush()
                    os.fsync(target.fileno())
                os.utime(temporary, ns=(before.st_atime_ns, before.st_mtime_ns))
                now = os.stat(path)
                if (now.st_ino, now.st_mtime_ns, now.st_size) != (
                    before.st_ino, before.st_mtime_ns, before.st_size,
                ):  # fmt: skip
                    os.unlink(temporary)
                    return CHANGED
                os.replace(temporary, path)
            except BaseException:
                if os.path.exists(temporary):
                    os.unlink(temporary)
                raise
        return ENCRYPTED if header is None else REENCRYPTED


def walk(storage: EncryptedFileSystemStorage, prefix: str = "") -> Iterator[str]:
    """Every object's name under ``prefix``, in a stable order; a re-encryption's leftover
    temporary file (a run that was killed) is removed on the way."""
    root = storage.path("")
    for directory, dirs, files in os.walk(os.path.join(root, prefix)):
        dirs.sort()
        for file_name in sorted(files):
            path = os.path.join(directory, file_name)
            if file_name.endswith(TEMPORARY_SUFFIX):
                os.unlink(path)
                continue
            yield os.path.relpath(path, root).replace(os.sep, "/")
