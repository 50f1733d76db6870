"""ASGI entry point: HTTP and WebSockets from one process (the embedded default)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

# Django must be set up before anything imports models (consumers, routing).
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.conf import settings  # noqa: E402

from portal.admission import AdmissionLimit  # noqa: E402
from portal.body_limit import BodySizeLimitMiddleware  # noqa: E402
from portal.core.heap import freeze_web_process  # noqa: E402
from portal.draining import CloseConnectionsWhileDraining, drain_on_sigterm  # noqa: E402
from portal.health import require_collected_static, serve_metrics_apart  # noqa: E402
from portal.routing import websocket_urlpatterns  # noqa: E402
from portal.socket_outages import CloseSocketsOnOutage  # noqa: E402

require_collected_static()
serve_metrics_apart()
drain_on_sigterm(settings.WEB_DRAIN_DELAY_S)  # uvicorn has installed its handlers by now

application = ProtocolTypeRouter(
    {
        "http": CloseConnectionsWhileDraining(
            BodySizeLimitMiddleware(
                AdmissionLimit(django_asgi_app, limit=settings.WEB_CONCURRENT_REQUESTS),
                max_bytes=settings.REQUEST_MAX_BYTES,
            )
        ),
        "websocket": CloseSocketsOnOutage(
            AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns)))
        ),
    }
)
freeze_web_process()  # out of the collector's full passes: see portal/core/heap.py
