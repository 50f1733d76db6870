"""Short-lived links to a recording's audio, for researchers with a data-use agreement.

Audio is a voiceprint, so it belongs to the limited data set only, and a link is issued per
request, lives ``RESEARCH_AUDIO_LINK_SECONDS`` and is audited, as is every download through it.
With S3 the link is the storage's own presigned GET. With local storage it is this app's download
URL carrying a ``TimestampSigner`` token of the recording's pseudonym and the researcher's user id
(nothing else: no database id, no storage key); the download view checks the signature and its
age, then checks the researcher's access again, so a withdrawn consent or an expired agreement
also closes links already handed out.
"""

import datetime
from dataclasses import dataclass
from pathlib import PurePosixPath

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import signing
from django.core.files.storage import default_storage
from django.urls import reverse
from django.utils import timezone

from media_assets.models import Recording
from media_assets.storage import is_s3
from portal.research.selectors import research_recording

SALT = "portal.research.audio"


class LinkRefused(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class AudioLink:
    url: str
    expires_at: datetime.datetime


def download_name(pseudonym: str, recording: Recording) -> str:
    return f"{pseudonym}{PurePosixPath(recording.storage_key).suffix}"


def issue_link(request, *, recording: Recording, pseudonym: str) -> AudioLink:
    lifetime = settings.RESEARCH_AUDIO_LINK_SECONDS
    expires_at = timezone.now() + datetime.timedelta(seconds=lifetime)
    if is_s3():
        disposition = f'attachment; filename="{download_name(pseudonym, recording)}"'
        url = default_storage.url(
            recording.storage_key,
            parameters={"ResponseContentDisposition": disposition},
            expire=lifetime,
        )
        return AudioLink(url=url, expires_at=expires_at)
    token = signing.TimestampSigner(salt=SALT).sign_object({"p": pseudonym, "u": request.user.pk})
    url = request.build_absolute_uri(reverse("research-audio-download", args=[token]))
    return AudioLink(url=url, expires_at=expires_at)


def open_link(token: str) -> tuple[object, Recording, str]:
    """The researcher and recording a local-storage link names; raises ``LinkRefused``."""
    try:
        payload = signing.TimestampSigner(salt=SALT).unsign_object(
            token, max_age=settings.RESEARCH_AUDIO_LINK_SECONDS
        )
    except signing.SignatureExpired as exc:
        raise LinkRefused(
            "link_expired", "This audio link has expired; ask for a new one."
        ) from exc
    except signing.BadSignature as exc:
        raise LinkRefused("link_invalid", "This audio link is not valid.") from exc
    user = get_user_model().objects.filter(pk=payload.get("u"), is_active=True).first()
    recording = research_recording(user, str(payload.get("p", ""))) if user else None
    if recording is None:
        raise LinkRefused("link_invalid", "This audio link is no longer valid.")
    return user, recording, payload["p"]
