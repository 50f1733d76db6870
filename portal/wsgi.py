"""WSGI entry point, for deployments that serve plain HTTP on a WSGI server (see docs/deploy.md)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

application = get_wsgi_application()

from portal.health import require_collected_static  # noqa: E402 - needs Django set up

require_collected_static()
