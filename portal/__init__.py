"""The project package and the clinician-facing app (sites, memberships, patients, audit)."""

from portal.celery import app as celery_app

__all__ = ["celery_app"]
