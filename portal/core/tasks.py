"""Housekeeping tasks of the portal app (queue ``maintenance``)."""

import logging

from celery import shared_task
from django.contrib.sessions.models import Session
from django.utils import timezone

logger = logging.getLogger(__name__)


@shared_task
def purge_expired_sessions() -> int:
    """Delete expired sessions; idle sessions expire after ``SESSION_IDLE_SECONDS``."""
    deleted, _ = Session.objects.filter(expire_date__lt=timezone.now()).delete()
    logger.info("expired sessions purged", extra={"count": deleted})
    return deleted
