"""Short-lived links to a recording's audio, for researchers with a data-use agreement.

Audio is a voiceprint, so it belongs to the limited data set only, and a link is issued per
request, lives ``RESEARCH_AUDIO_LINK_SECONDS`` and is audited, as is every download through it.
With S3 the link is the storage's own presigned GET. With local storage it is this app's download
URL carrying a ``TimestampSigner`` token of the recording's pseudonym and the researcher's user id
(nothing else: no database id, no storage key); the download view checks the signature and its
age, then checks the researcher's access again, so a withdrawn consent or an expired agreement
also closes links already handed out.

What a link gives is the recording's research copy, never the original upload: the analysis
signal (mono, ``ANALYSIS_SAMPLE_RATE``) as a plain 16-bit PCM WAV, made on first use and kept
under ``research-copies/``. An original file carries whatever its recorder wrote beside the sound
(a phone's owner name as the device, a title, a location, an encoder's comment): none of it can
reach a researcher through a copy that holds nothing but samples.
"""

import datetime
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import signing
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.urls import reverse
from django.utils import timezone

from media_assets import audio as media_audio
from media_assets.models import Recording
from media_assets.storage import analysis_audio, derived_key, is_s3
from portal.research.selectors import research_recording

SALT = "portal.research.audio"
RESEARCH_COPIES_PREFIX = "research-copies/"


class LinkRefused(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class AudioLink:
    url: str
    expires_at: datetime.datetime


def download_name(pseudonym: str) -> str:
    return f"{pseudonym}.wav"


def research_copy_key(recording: Recording) -> str:
    return derived_key(recording.storage_key, prefix=RESEARCH_COPIES_PREFIX, suffix=".wav")


def research_copy(recording: Recording) -> str:
    """The storage key of the recording's research copy, made from the original if need be.

    Idempotent: two requests racing both write the same samples. Raises ``media_audio``'s
    ``AudioRejected`` (not for a recording the upload accepted) or a storage error.
    """
    key = research_copy_key(recording)
    if default_storage.exists(key):
        return key
    decoded = analysis_audio(recording.storage_key)
    wav = media_audio.to_wav(decoded.samples, decoded.sample_rate)
    if default_storage.exists(key):  # written meanwhile by a racing request
        return key
    return default_storage.save(key, ContentFile(wav))


def issue_link(request, *, recording: Recording, pseudonym: str) -> AudioLink:
    lifetime = settings.RESEARCH_AUDIO_LINK_SECONDS
    expires_at = timezone.now() + datetime.timedelta(seconds=lifetime)
    if is_s3():
        disposition = f'attachment; filename="{download_name(pseudonym)}"'
        url = default_storage.url(
            research_copy(recording),
            parameters={"ResponseContentDisposition": disposition},
            expire=lifetime,
        )
        return AudioLink(url=url, expires_at=expires_at)
    research_copy(recording)  # made now, so that the download only reads it
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
