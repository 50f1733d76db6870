"""Why an upload cannot become a recording: one exception per failure, each with what to tell.

Each subclass carries a stable `code`, a `kind` (invalid, too_large, unsupported) and a
plain-language `message` a clinician can act on; `portal.core.errors.ANSWERS` maps the kind, once,
to what the API, the pages and the sockets answer. Messages never repeat the
file name: clinicians often name files after the patient.
"""

from __future__ import annotations


class AudioRejected(Exception):
    """An upload that cannot become a recording; `code` and `message` go to the client as-is.

    `detail` is the technical reason, for logs only. Neither it nor `message` ever holds the file
    name.
    """

    code = "audio_rejected"
    kind = "invalid"
    default_message = "The file could not be used as a recording."

    def __init__(self, message: str | None = None, *, detail: str = "") -> None:
        self.message = message or self.default_message
        self.detail = detail
        super().__init__(self.message)

    def as_dict(self) -> dict[str, str]:
        """The `{"code", "message"}` body of the API's error envelope."""
        return {"code": self.code, "message": self.message}


class NotAudio(AudioRejected):
    code = "not_audio"
    kind = "unsupported"
    default_message = (
        "This file is not a recording in a supported audio format "
        "(WAV, FLAC, Ogg, WebM, MP3 or M4A)."
    )


class CorruptAudio(AudioRejected):
    code = "corrupt_audio"
    kind = "invalid"
    default_message = (
        "The recording is damaged or incomplete and cannot be played back. "
        "Please record it again or export it again from the recording device."
    )


class EmptyAudio(AudioRejected):
    code = "empty_audio"
    kind = "invalid"
    default_message = "The file contains no sound. Please record again."


class RecordingTooShort(AudioRejected):
    code = "too_short"
    kind = "invalid"
    default_message = "The recording is too short to be analysed. Please record for longer."


class RecordingTooShortForKind(RecordingTooShort):
    """Shorter than its kind needs (a cough, a breath, speech): the recorder's own minimum."""

    code = "recording_too_short"


class RecordingTooLong(AudioRejected):
    code = "too_long"
    kind = "invalid"
    default_message = "The recording is too long. Please upload a shorter recording."


class RecordingTooLarge(AudioRejected):
    code = "too_large"
    kind = "too_large"
    default_message = "The file is too large. Please upload a shorter recording."


class UnsupportedFormat(AudioRejected):
    code = "unsupported_format"
    kind = "unsupported"
    default_message = "The recording's audio settings are not supported."


# A file cut short: said the same way whether the WAV header or the decoder found it out.
TRUNCATED_MESSAGE = (
    "The recording is incomplete: the file ends before the sound it announces. The upload may "
    "have been interrupted; please upload the recording again."
)
