"""Browser policies of the portal's pages beside the Content-Security-Policy (django-csp, in
settings): the recorder needs the microphone on our own pages, nothing needs camera or location.

The admin and the API documentation are left alone, as they are by the CSP.
"""

from django.conf import settings


class PermissionsPolicyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        exempt = request.path.startswith(
            tuple(settings.CONTENT_SECURITY_POLICY["EXCLUDE_URL_PREFIXES"])
        )
        if response.get("Content-Type", "").startswith("text/html") and not exempt:
            response.setdefault(
                "Permissions-Policy", "microphone=(self), camera=(), geolocation=()"
            )
        return response
