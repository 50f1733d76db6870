"""Envelope encryption of stored files: AES-256-GCM in 64 KiB chunks, each readable on its own.

Every object gets a random 256-bit data key of its own, wrapped (AES-GCM) by a key of the key
ring, whose id the object's header names; the ring's first key wraps new objects and every key
unwraps, so a key is retired by re-encrypting under the newest one (``reencrypt_storage``) and
then dropping it. The plaintext is sealed in chunks, so that a range request for audio playback
decrypts only the chunks it covers. Layout::

    header   magic "RPAE" | version 1 | chunk size (u32) | key id length (u8) | key id
             | nonce prefix (8 bytes) | wrap nonce (12) | wrapped data key (32 + 16-byte tag)
    chunk i  AES-GCM(data key, nonce = prefix | i as u32, aad = i as u64 | last-chunk flag)

The header up to the wrapped key is the wrap's associated data, so a changed header byte makes the
object unreadable rather than differently read; the chunk index and the last-chunk flag in each
chunk's associated data make reordered, dropped, cut or appended chunks fail their tag. An empty
object is one empty last chunk.

A file that fails any of this raises ``StoredObjectUnreadable`` (an ``OSError``, so every caller
that already treats a storage failure as "cannot be read now" refuses it the same way) with the
same ``code``/``message``/``kind`` shape as the portal's domain errors. This module imports no
Django: ``media_assets.encrypted_storage`` is the storage backend built on it.
"""

from __future__ import annotations

import base64
import binascii
import io
import os
import re
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

MAGIC = b"RPAE"
VERSION = 1
CHUNK_SIZE = 64 * 1024
TAG_SIZE = 16
KEY_SIZE = 32
NONCE_PREFIX_SIZE = 8
WRAP_NONCE_SIZE = 12
_FIXED = struct.Struct(">4sBIB")  # magic, version, chunk size, key id length
_KEY_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


class StoredObjectUnreadable(OSError):
    """A stored file that cannot be decrypted: altered, cut short, or not encrypted at all."""

    code = "stored_object_unreadable"
    kind = "unavailable"
    default_message = (
        "This stored file failed its integrity check (it was altered or cut short), so it is not "
        "served. Please tell an administrator."
    )

    def __init__(self, detail: str, message: str | None = None) -> None:
        self.message = message or self.default_message
        self.detail = detail  # for logs and operators: never key material
        super().__init__(f"{self.message} ({detail})")


class NotEncrypted(StoredObjectUnreadable):
    code = "stored_object_not_encrypted"


class UnknownKeyId(StoredObjectUnreadable):
    code = "unknown_encryption_key"
    default_message = (
        "This stored file is encrypted under a key this server does not hold, so it cannot be "
        "read. Please tell an administrator."
    )


@dataclass(frozen=True)
class KeyRing:
    """Named 256-bit keys; the first one encrypts, every one decrypts."""

    keys: tuple[tuple[str, bytes], ...]

    @classmethod
    def parse(cls, text: str) -> KeyRing:
        """``"k2:<base64 of 32 bytes>,k1:<…>"``; raises ``ValueError`` naming the bad entry's id
        (never its key)."""
        keys: list[tuple[str, bytes]] = []
        for entry in (part.strip() for part in text.split(",")):
            if not entry:
                continue
            key_id, sep, encoded = entry.partition(":")
            key_id = key_id.strip()
            if not sep or not _KEY_ID.match(key_id):
                raise ValueError(
                    "Each key is 'id:base64', the id 1-64 letters, digits, '_', '.' or '-'."
                )
            try:
                key = base64.b64decode(encoded.strip() + "==", altchars=b"-_", validate=False)
            except (binascii.Error, ValueError):
                key = b""
            if len(key) != KEY_SIZE:
                raise ValueError(f"Key {key_id!r} is not the base64 of {KEY_SIZE} bytes.")
            if any(key_id == known for known, _ in keys):
                raise ValueError(f"Key id {key_id!r} appears twice.")
            keys.append((key_id, key))
        if not keys:
            raise ValueError("The key ring holds no key.")
        return cls(tuple(keys))

    @property
    def primary_id(self) -> str:
        return self.keys[0][0]

    def key(self, key_id: str) -> bytes:
        for known, key in self.keys:
            if known == key_id:
                return key
        raise UnknownKeyId(f"key id {key_id!r} is not in the key ring")


def new_key_entry(key_id: str) -> str:
    """A key ring entry with a fresh random key, e.g. for ``STORAGE_ENCRYPTION_KEYS``."""
    return f"{key_id}:{base64.b64encode(os.urandom(KEY_SIZE)).decode()}"


@dataclass(frozen=True)
class Header:
    key_id: str
    chunk_size: int
    nonce_prefix: bytes
    wrap_nonce: bytes
    wrapped_key: bytes
    length: int  # bytes of header on disk

    def data_key(self, ring: KeyRing) -> bytes:
        try:
            return AESGCM(ring.key(self.key_id)).decrypt(
                self.wrap_nonce, self.wrapped_key, self._associated_data()
            )
        except InvalidTag:
            raise StoredObjectUnreadable("the header or its wrapped key was altered") from None

    def _associated_data(self) -> bytes:
        key_id = self.key_id.encode()
        fixed = _FIXED.pack(MAGIC, VERSION, self.chunk_size, len(key_id))
        return fixed + key_id + self.nonce_prefix + self.wrap_nonce

    @classmethod
    def new(cls, ring: KeyRing) -> tuple[Header, bytes]:
        """A header for a new object under the ring's first key, and the object's data key."""
        data_key = AESGCM.generate_key(bit_length=256)
        draft = cls(ring.primary_id, CHUNK_SIZE, os.urandom(NONCE_PREFIX_SIZE),
                    os.urandom(WRAP_NONCE_SIZE), b"", 0)  # fmt: skip
        wrapped = AESGCM(ring.key(ring.primary_id)).encrypt(
            draft.wrap_nonce, data_key, draft._associated_data()
        )
        length = len(draft._associated_data()) + len(wrapped)
        return replace(draft, wrapped_key=wrapped, length=length), data_key

    def to_bytes(self) -> bytes:
        return self._associated_data() + self.wrapped_key


def read_header(raw: BinaryIO) -> Header:
    """The header at the start of ``raw``; raises ``NotEncrypted`` or ``StoredObjectUnreadable``."""
    raw.seek(0)
    fixed = raw.read(_FIXED.size)
    if len(fixed) < len(MAGIC) or fixed[: len(MAGIC)] != MAGIC:
        raise NotEncrypted("the file does not start with the encryption header")
    if len(fixed) < _FIXED.size:
        raise StoredObjectUnreadable("the header is cut short")
    _magic, version, chunk_size, id_length = _FIXED.unpack(fixed)
    if version != VERSION or not 0 < chunk_size <= 16 * 1024 * 1024:
        raise StoredObjectUnreadable(f"unknown header version {version}")
    rest_length = id_length + NONCE_PREFIX_SIZE + WRAP_NONCE_SIZE + KEY_SIZE + TAG_SIZE
    rest = raw.read(rest_length)
    if len(rest) < rest_length:
        raise StoredObjectUnreadable("the header is cut short")
    try:
        key_id = rest[:id_length].decode()
    except UnicodeDecodeError:
        raise StoredObjectUnreadable("the header's key id is not text") from None
    prefix_end = id_length + NONCE_PREFIX_SIZE
    return Header(
        key_id=key_id,
        chunk_size=chunk_size,
        nonce_prefix=rest[id_length:prefix_end],
        wrap_nonce=rest[prefix_end : prefix_end + WRAP_NONCE_SIZE],
        wrapped_key=rest[prefix_end + WRAP_NONCE_SIZE :],
        length=_FIXED.size + rest_length,
    )


def _seal(aead: AESGCM, header: Header, index: int, last: bool, data: bytes) -> bytes:
    nonce = header.nonce_prefix + index.to_bytes(4, "big")
    return aead.encrypt(nonce, data, index.to_bytes(8, "big") + (b"\x01" if last else b"\x00"))


def encrypted_chunks(plaintext: Iterable[bytes], ring: KeyRing) -> Iterator[bytes]:
    """The encrypted object, as pieces to write in order: the header, then one piece per chunk."""
    header, data_key = Header.new(ring)
    aead = AESGCM(data_key)
    yield header.to_bytes()
    pending = bytearray()
    index = 0
    for piece in plaintext:
        pending += piece
        # A chunk is sealed as "not last" only once more bytes are known to follow it.
        while len(pending) > header.chunk_size:
            yield _seal(aead, header, index, False, bytes(pending[: header.chunk_size]))
            del pending[: header.chunk_size]
            index += 1
    yield _seal(aead, header, index, True, bytes(pending))


class DecryptingReader(io.RawIOBase):
    """A seekable, read-only view of the plaintext of an encrypted file.

    Opening reads and checks the header and unwraps the data key (an altered header or an unknown
    key id is refused here); reads decrypt only the chunks they touch, one cached at a time.
    ``size`` is the plaintext's length, known from the file's length without decrypting.
    """

    def __init__(self, raw: BinaryIO, ring: KeyRing, *, name: str = "") -> None:
        super().__init__()
        self._raw = raw
        self.name = name
        try:
            self._header = read_header(raw)
            self._aead = AESGCM(self._header.data_key(ring))
            self.size, self._chunks = self._plaintext_size(raw.seek(0, io.SEEK_END))
        except BaseException:
            raw.close()
            raise
        self._pos = 0
        self._cached: tuple[int, bytes] | None = None

    def _plaintext_size(self, file_size: int) -> tuple[int, int]:
        body = file_size - self._header.length
        sealed = self._header.chunk_size + TAG_SIZE
        chunks = -(-body // sealed) if body > 0 else 0
        if chunks == 0 or body - (chunks - 1) * sealed < TAG_SIZE:
            raise StoredObjectUnreadable("the file is cut short")
        return body - chunks * TAG_SIZE, chunks

    def _chunk(self, index: int) -> bytes:
        if self._cached is not None and self._cached[0] == index:
            return self._cached[1]
        sealed = self._header.chunk_size + TAG_SIZE
        self._raw.seek(self._header.length + index * sealed)
        data = self._raw.read(sealed)
        last = index == self._chunks - 1
        try:
            plain = _open_chunk(self._aead, self._header, index, last, data)
        except InvalidTag:
            raise StoredObjectUnreadable(
                f"chunk {index} failed authentication (altered, reordered or cut short)"
            ) from None
        self._cached = (index, plain)
        return plain

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self.size}[whence]
        if base + offset < 0:
            raise ValueError("negative seek position")
        self._pos = base + offset
        return self._pos

    def read(self, size: int | None = -1) -> bytes:
        end = self.size if size is None or size < 0 else min(self.size, self._pos + size)
        pieces = []
        chunk_size = self._header.chunk_size
        while self._pos < end:
            index, offset = divmod(self._pos, chunk_size)
            piece = self._chunk(index)[offset : offset + end - self._pos]
            pieces.append(piece)
            self._pos += len(piece)
        return b"".join(pieces)

    def readall(self) -> bytes:
        return self.read(-1)

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._raw.close()
        super().close()


def _open_chunk(aead: AESGCM, header: Header, index: int, last: bool, data: bytes) -> bytes:
    nonce = header.nonce_prefix + index.to_bytes(4, "big")
    return aead.decrypt(nonce, data, index.to_bytes(8, "big") + (b"\x01" if last else b"\x00"))
