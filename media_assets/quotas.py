"""Upload quotas: how many recordings, and how many bytes, a clinician and a site may upload in
an hour (``UPLOAD_QUOTA_*`` settings; 0 turns one off).

An upload is charged against all four counters at once, before anything is stored, and only if
every one of them has room (``portal.core.rate_limits``: atomic, so parallel uploads cannot pass
together what each would have been refused alone). A refused upload stores nothing and counts
nothing; one that is charged and then rejected for its audio has still used its share, so
unusable uploads cannot be sent without end either.
"""

from django.conf import settings

from media_assets.errors import UploadQuotaExceeded
from portal.core import rate_limits

HOUR_S = 3600

_MESSAGES = {
    "user": "You have reached your upload limit for this hour. Please try again later.",
    "site": "This site has reached its upload limit for this hour. Please try again later.",
}


def charge_upload(*, actor, site_id: int, size_bytes: int) -> None:
    """Count one upload of ``size_bytes`` for ``actor`` at site ``site_id``, or raise
    ``UploadQuotaExceeded`` (with ``retry_after``) if a quota has no room for it."""
    wanted = [
        (f"uploads:user:{actor.pk}:count", 1, settings.UPLOAD_QUOTA_USER_PER_HOUR),
        (f"uploads:user:{actor.pk}:bytes", size_bytes, settings.UPLOAD_QUOTA_USER_BYTES_PER_HOUR),
        (f"uploads:site:{site_id}:count", 1, settings.UPLOAD_QUOTA_SITE_PER_HOUR),
        (f"uploads:site:{site_id}:bytes", size_bytes, settings.UPLOAD_QUOTA_SITE_BYTES_PER_HOUR),
    ]
    limits = [rate_limits.Limit(key, amount, most, HOUR_S) for key, amount, most in wanted if most]
    decision = rate_limits.charge(limits)
    if not decision.allowed:
        scope = decision.refused_by.key.split(":")[1]
        raise UploadQuotaExceeded(_MESSAGES[scope], quota=scope, retry_after=decision.retry_after)
