"""Error pages in the portal's layout, and in the API's JSON shape under ``/api/``."""

from django.shortcuts import render

from portal.api_errors import error_response
from portal.observability import current_request_id


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


def server_error(request):
    request_id = current_request_id()
    if _is_api(request):
        return error_response(
            500, "server_error", "Something went wrong on our side.", request_id=request_id
        )
    # Rendered without context processors that might fail again; only the request id is needed.
    return render(request, "500.html", {"request_id": request_id}, status=500)
