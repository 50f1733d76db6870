"""Root URL configuration: pages, admin, API, health and metrics."""

from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from portal import health

admin.site.site_header = "Respiratory audio portal"
admin.site.site_title = "Respiratory audio portal"
admin.site.index_title = "Administration"

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False), name="home"),
    path("admin/", admin.site.urls),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("", include("django_prometheus.urls")),
]
