"""A URLconf with views that lose their database connection, as they do when PostgreSQL restarts
under a request: on PostgreSQL the view's own connection is really terminated (elsewhere the
driver's error is raised as it would be). ``calls`` counts how often each view ran."""

from django.db import OperationalError, connection
from django.http import HttpResponse, JsonResponse
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt
from rest_framework.decorators import api_view, permission_classes
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

calls: dict[str, int] = {}


def lose_connection(name: str, times: int) -> None:
    calls[name] = calls.get(name, 0) + 1
    if calls[name] > times:
        return
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(pg_backend_pid())")
    raise OperationalError("server closed the connection unexpectedly")


@api_view(["GET", "POST"])
@permission_classes([AllowAny])
def api_lost_once(request):
    lose_connection(f"api {request.method}", times=1)
    return Response({"ok": True})


def page_lost_always(request):
    lose_connection("page", times=99)
    return HttpResponse("never")


@csrf_exempt
def page_lost_once(request):
    lose_connection(f"page {request.method}", times=1)
    return JsonResponse({"ok": True})


urlpatterns = [
    path("api/v1/lost-once/", api_lost_once),
    path("lost-always/", page_lost_always),
    path("lost-once/", page_lost_once),
    path("", include("portal.urls")),
]

handler500 = "portal.errors.server_error"
