"""Serving a recording's audio and its spectrogram picture: permission-checked, audited, never a
public URL; the audio is seekable.

With filesystem storage the bytes go through this view, which honours HTTP ``Range`` so that an
``<audio>`` element can seek; the stored file is encrypted (``media_assets.encrypted_storage``),
and a range costs the decryption of the 64 KiB chunks it covers. With S3 the view answers with a
redirect to a presigned GET that expires in minutes (``MEDIA_URL_EXPIRE_SECONDS``).
"""

import logging
import re
from contextlib import contextmanager

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.files.storage import default_storage
from django.http import (
    Http404,
    HttpResponse,
    HttpResponseRedirect,
    StreamingHttpResponse,
)
from django.views.decorators.http import require_safe

from media_assets.encryption import StoredObjectUnreadable
from media_assets.models import RecordingStatus
from media_assets.selectors import recordings_for
from media_assets.storage import UnreadableObject, open_object
from portal.core import permissions
from portal.core.audit import AuditContext, record_event

logger = logging.getLogger(__name__)
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
CHUNK = 64 * 1024


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """First and last byte of a single ``bytes=`` range, or None for the whole file.

    Raises ``ValueError`` for a range that cannot be satisfied.
    """
    if not header:
        return None
    match = _RANGE.match(header.strip())
    if not match or match.groups() == ("", ""):
        return None  # multi-range or malformed: RFC 9110 lets us send the whole file
    start_text, end_text = match.groups()
    if start_text == "":
        length = int(end_text)
        if length == 0:
            raise ValueError("empty suffix range")
        return max(0, size - length), size - 1
    start = int(start_text)
    end = min(int(end_text), size - 1) if end_text else size - 1
    if start >= size or start > end:
        raise ValueError("range outside the file")
    return start, end


def _ranged_file(handle, start: int, end: int):
    """Bytes ``start`` to ``end`` of ``handle``, the first block read (and decrypted) before the
    response starts: a stored object that fails its integrity check is refused with an error
    page, not sent as the first bytes of a response that then breaks off."""
    handle.seek(start)
    try:
        first = handle.read(min(CHUNK, end - start + 1))
    except BaseException:
        handle.close()
        raise

    def blocks():
        remaining = end - start + 1 - len(first)
        try:
            yield first
            while remaining > 0:
                chunk = handle.read(min(CHUNK, remaining))
                if not chunk:
                    break
                remaining -= len(chunk)
                yield chunk
        finally:
            handle.close()

    return blocks()


@contextmanager
def _refusing_unreadable(key: str):
    """Log a stored object that fails its integrity check (``StoredObjectUnreadable``) for the
    operators, and let it through: the error page says the file cannot be served."""
    try:
        yield
    except StoredObjectUnreadable as exc:
        logger.error("stored object unreadable", extra={"key": key, "detail": exc.detail})
        raise


def _visible_recording(request, pk: int):
    """A stored recording the user may see: 403 without a clinical role, 404 outside their sites."""
    if not permissions.has_clinical_role(request.user):
        raise PermissionDenied
    recording = (
        recordings_for(request.user)
        .filter(pk=pk, status=RecordingStatus.STORED)
        .select_related("patient")
        .first()
    )
    if recording is None:
        raise Http404("Recording not found.")
    return recording


@login_required
@require_safe
def recording_spectrogram(request, pk: int):
    """The recording's spectrogram picture (``diagnostics.spectrogram``), with the audio's checks."""
    recording = _visible_recording(request, pk)
    if not recording.spectrogram_key:
        raise Http404("The spectrogram is not ready yet.")
    record_event(action="recording.spectrogram_viewed", obj=recording,
                 patient=recording.patient, actor=request.user, context=AuditContext.of(request))  # fmt: skip
    if settings.STORAGE_BACKEND == "s3":
        return HttpResponseRedirect(default_storage.url(recording.spectrogram_key))
    try:
        with (
            _refusing_unreadable(recording.spectrogram_key),
            open_object(recording.spectrogram_key) as handle,
        ):
            png = handle.read()  # a small picture, checked whole before it is sent
    except (FileNotFoundError, UnreadableObject):
        raise Http404("The spectrogram is not available.") from None
    return HttpResponse(png, content_type="image/png")


@login_required
@require_safe
def recording_audio(request, pk: int):
    recording = _visible_recording(request, pk)
    if "Range" not in request.headers or request.headers["Range"].startswith("bytes=0-"):
        # One event per listening, not one per seek.
        record_event(
            action="recording.audio_viewed", obj=recording, patient=recording.patient,
            actor=request.user, context=AuditContext.of(request),
        )  # fmt: skip
    if settings.STORAGE_BACKEND == "s3":
        return HttpResponseRedirect(default_storage.url(recording.storage_key))
    return _serve_local(request, recording)


def _serve_local(request, recording):
    try:
        with _refusing_unreadable(recording.storage_key):
            handle = open_object(recording.storage_key)
    except (FileNotFoundError, UnreadableObject):
        # A stored row without its object (reconcile_storage will quarantine it), or something
        # that is not a file where it was, which is refused without blocking on it.
        logger.warning("stored recording has no readable object", extra={"recording": recording.pk})
        raise Http404("Recording audio not available.") from None
    size = recording.size_bytes
    try:
        byte_range = parse_range(request.headers.get("Range"), size)
    except ValueError:
        handle.close()
        response = HttpResponse(status=416)
        response["Content-Range"] = f"bytes */{size}"
        return response
    start, end = byte_range or (0, size - 1)
    with _refusing_unreadable(recording.storage_key):
        blocks = _ranged_file(handle, start, end)
    response = StreamingHttpResponse(
        blocks, status=200 if byte_range is None else 206, content_type=recording.content_type
    )
    if byte_range is not None:
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
    response["Content-Length"] = str(end - start + 1)
    response["Accept-Ranges"] = "bytes"
    response["Content-Disposition"] = f'inline; filename="recording-{recording.pk}"'
    return response
