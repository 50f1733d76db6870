"""The project package (settings, urls, asgi, celery) and the top layer: pages, API routing and the
research export. The clinic core it builds on is ``portal.core``."""

from portal.celery import app as celery_app

__all__ = ["celery_app"]
