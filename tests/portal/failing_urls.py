"""A URLconf with one broken view, to see the 500 pages as users would."""

from django.urls import include, path


def broken(request):
    raise RuntimeError("a bug")


urlpatterns = [
    path("boom/", broken),
    path("api/v1/boom/", broken),
    path("", include("portal.urls")),
]

handler500 = "portal.errors.server_error"
handler404 = "portal.errors.not_found"
