"""Failures of storing recordings, each with the code, status and message the client sees.

(Failures of the audio itself are in ``media_assets.audio``.) ``portal.api_errors`` maps anything
carrying ``code``, ``status`` and ``message`` to the API's error shape.
"""


class RecordingError(Exception):
    code = "recording_error"
    status = 400
    default_message = "The recording could not be stored."

    def __init__(self, message: str | None = None) -> None:
        self.message = message or self.default_message
        super().__init__(self.message)


class StorageUnavailable(RecordingError):
    code = "storage_unavailable"
    status = 503
    default_message = (
        "The recording could not be saved right now. Nothing was lost on your side: "
        "please try again in a moment."
    )


class UploadNotReceived(RecordingError):
    code = "upload_incomplete"
    status = 409
    default_message = "The file has not been uploaded yet. Upload it, then complete the upload."


class UploadMismatch(RecordingError):
    status = 400

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        super().__init__(message)


class UploadClosed(RecordingError):
    code = "upload_closed"
    status = 409
    default_message = "This upload is no longer open; start a new one."


class RecordingNotSaved(RecordingError):
    code = "not_saved"
    status = 503
    default_message = (
        "The recording could not be saved right now. Nothing was lost on your side: "
        "please try again in a moment."
    )
