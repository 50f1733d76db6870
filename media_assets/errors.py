"""Failures of storing recordings, each with the code and message the client sees.

(Failures of the audio itself are in ``media_assets.audio``.) What each surface answers to them is
decided once, by kind, in ``portal.core.errors``.
"""

from portal.core.errors import Conflict, DomainError, Invalid, Kind, Unavailable


class RecordingError(DomainError):
    code = "recording_error"
    default_message = "The recording could not be stored."


_NOTHING_LOST = (
    "The recording could not be saved right now. Nothing was lost on your side: "
    "please try again in a moment."
)


class StorageUnavailable(RecordingError, Unavailable):
    code = "storage_unavailable"
    kind = Kind.UNAVAILABLE
    default_message = _NOTHING_LOST


class UploadNotReceived(RecordingError, Conflict):
    code = "upload_incomplete"
    kind = Kind.CONFLICT
    default_message = "The file has not been uploaded yet. Upload it, then complete the upload."


class UploadMismatch(RecordingError, Invalid):
    kind = Kind.INVALID

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message, code=code)


class UploadClosed(RecordingError, Conflict):
    code = "upload_closed"
    kind = Kind.CONFLICT
    default_message = "This upload is no longer open; start a new one."


class RecordingNotSaved(RecordingError, Unavailable):
    code = "not_saved"
    kind = Kind.UNAVAILABLE
    default_message = _NOTHING_LOST


class UploadQuotaExceeded(RecordingError):
    """An upload over a clinician's or a site's hourly quota (``media_assets.quotas``)."""

    code = "upload_quota_exceeded"
    kind = Kind.RATE_LIMITED
    default_message = "Too many uploads this hour. Please try again later."
