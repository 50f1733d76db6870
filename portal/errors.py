"""Error pages in the portal's layout, and in the API's JSON shape under ``/api/``.

A domain failure a page view lets through (an object out of reach, mostly) is answered here by
``DomainErrorMiddleware`` with the status ``portal.core.errors.ANSWERS`` gives it, as the API's
exception handler and the sockets do. A lost database connection, wherever it surfaces (a view,
a middleware, the 500 handler), is answered 503 ``database_unavailable`` and marked so that
``portal.core.database.RetryIdempotentMiddleware`` can run a GET once more.
"""

import sys

from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _

from portal.core import permissions
from portal.core.database import DatabaseUnavailable, as_unavailable, mark_retryable
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
    return render(request, "403.html", {"places": places_for(request.user)}, status=403)


def places_for(user) -> list[tuple[str, str]]:
    """Where the user of a 403 page may go instead, as (url, words): never back to a page that
    would refuse them too."""
    if not user.is_authenticated:
        return [(reverse("pages:login"), _("Sign in"))]
    places = []
    if permissions.has_clinical_role(user) or permissions.research_sites(user).exists():
        places.append(("/", _("Back to the start page")))
    if user.is_staff:
        places.append((reverse("admin:index"), _("Administration")))
    places.append((reverse("pages:password_change"), _("Change your password")))
    return places


class DomainErrorMiddleware:
    """Answer a page's unhandled domain failure with its status and message, never a 500."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        unavailable = as_unavailable(exception)
        if unavailable is not None:
            return database_unavailable(request, unavailable)
        if not is_domain_failure(exception):
            return None
        status = answer_for(exception).http_status
        if exception.kind == Kind.NOT_FOUND:
            return not_found(request)
        if _is_api(request):
            return error_response(status, exception.code, exception.message)
        return render(request, "error.html", {"message": exception.message}, status=status)


def database_unavailable(request, exc: DatabaseUnavailable):
    """503 with ``Retry-After``: JSON under /api/, elsewhere a page that asks to try again soon."""
    if _is_api(request):
        response = error_response(503, exc.code, exc.message, **exc.extra)
    else:
        response = render(request, "503.html", status=503)
    response["Retry-After"] = str(exc.extra["retry_after"])
    return mark_retryable(response)


def server_error(request):
    # A lost connection outside a view (the session, the user) reaches Django's 500 handling.
    unavailable = as_unavailable(sys.exc_info()[1])
    if unavailable is not None:
        return database_unavailable(request, unavailable)
    request_id = current_request_id()
    if _is_api(request):
        return error_response(
            500, "server_error", "Something went wrong on our side.", request_id=request_id
        )
    # Rendered without context processors that might fail again; only the request id is needed.
    return render(request, "500.html", {"request_id": request_id}, status=500)
