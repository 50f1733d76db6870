"""Error pages in the portal's layout, and in the API's JSON shape under ``/api/``.

A domain failure a page view lets through (an object out of reach, mostly) is answered here by
``DomainErrorMiddleware`` with the status ``portal.core.errors.ANSWERS`` gives it, as the API's
exception handler and the sockets do.
"""

from django.shortcuts import render

from portal.core.errors import Kind, answer_for, is_domain_failure
from portal.core.observability import current_request_id
from portal.core.rest.errors import error_response


def _is_api(request) -> bool:
    return request.path.startswith("/api/")


def not_found(request, exception=None):
    if _is_api(request):
        return error_response(404, "not_found", "Not found.")
    return render(request, "404.html", status=404)


def forbidden(request, exception=None):
    if _is_api(request):
        return error_response(403, "permission_denied", "You do not have permission to do this.")
    return render(request, "403.html", status=403)


class DomainErrorMiddleware:
    """Answer a page's unhandled domain failure with its status and message, never a 500."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not is_domain_failure(exception):
            return None
        status = answer_for(exception).http_status
        if exception.kind == Kind.NOT_FOUND:
            return not_found(request)
        if _is_api(request):
            return error_response(status, exception.code, exception.message)
        return render(request, "error.html", {"message": exception.message}, status=status)


def server_error(request):
    request_id = current_request_id()
    if _is_api(request):
        return error_response(
            500, "server_error", "Something went wrong on our side.", request_id=request_id
        )
    # Rendered without context processors that might fail again; only the request id is needed.
    return render(request, "500.html", {"request_id": request_id}, status=500)
