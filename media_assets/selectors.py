"""Reads of recordings, scoped by ``portal.core.permissions``."""

from django.db.models import QuerySet

from media_assets.models import Recording
from portal.core import permissions


def recordings_for(user) -> QuerySet[Recording]:
    return permissions.restrict(Recording.objects.all(), user)


def visible_recording(user, pk: int, *, what: str = "Recording") -> Recording:
    """The recording with its patient and site, or ``NotVisible``."""
    return permissions.visible(
        Recording.objects.select_related("patient__site"), user, pk, what=what
    )
