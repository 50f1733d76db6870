"""A strict Content-Security-Policy for the portal's pages: scripts and styles only from our own
files (no inline script, no inline style attribute, no CDN), media from our own URLs and from the
blobs the recorder plays back, connections only to this host (HTTP and its WebSocket).

The admin and the API documentation bring their own inline scripts and are left alone.
"""

from django.core.exceptions import DisallowedHost

EXEMPT_PREFIXES = ("/admin/", "/api/docs/", "/api/schema/")


def policy(host: str | None) -> str:
    sockets = f" ws://{host} wss://{host}" if host else ""
    return "; ".join([
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "media-src 'self' blob:",
        f"connect-src 'self'{sockets}",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ])  # fmt: skip


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        is_html = response.get("Content-Type", "").startswith("text/html")
        if is_html and not request.path.startswith(EXEMPT_PREFIXES):
            try:
                host = request.get_host()
            except DisallowedHost:
                host = None
            response.setdefault("Content-Security-Policy", policy(host))
            # The recorder needs the microphone on our own pages, nothing else does.
            response.setdefault(
                "Permissions-Policy", "microphone=(self), camera=(), geolocation=()"
            )
        return response
