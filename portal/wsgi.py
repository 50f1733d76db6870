"""WSGI entry point, for deployments that serve plain HTTP on a WSGI server (see docs/deploy.md)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

application = get_wsgi_application()

from portal.core.heap import freeze_web_process  # noqa: E402
from portal.health import require_collected_static  # noqa: E402 - needs Django set up

require_collected_static()
freeze_web_process()  # out of the collector's full passes: see portal/core/heap.py
