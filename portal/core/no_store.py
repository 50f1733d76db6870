"""No answer of the portal is kept by a browser or a proxy.

Pages, API lists and details, audio, spectrograms and exports carry patient data, and a shared
workstation's browser cache outlives the session that filled it. Every response that passes through
Django therefore says ``Cache-Control: no-store``, whatever the view set; only the static files,
which WhiteNoise answers before this middleware and which hold no patient data, stay cacheable.
Conditional GET keeps working: an ETag with ``no-store`` still lets a client that kept the body
itself ask ``If-None-Match`` and get a 304.
"""

NO_STORE = "private, no-store"


class NoStoreMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response["Cache-Control"] = NO_STORE
        return response
