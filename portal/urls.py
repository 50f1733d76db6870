"""Root URL configuration: pages, admin, API, health and metrics."""

from django.contrib import admin
from django.urls import include, path
from django.utils.translation import gettext_lazy as _
from django_otp.admin import OTPAdminSite
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from portal import health, two_factor

# The documented way to make the default admin site require a verified second factor; its sign-in
# form never writes the password back into the page.
admin.site.__class__ = OTPAdminSite
admin.site.login_form = two_factor.AdminSignInForm

admin.site.site_header = _("Respiratory audio portal")
admin.site.site_title = _("Respiratory audio portal")
admin.site.index_title = _("Administration")

urlpatterns = [
    path("", include("portal.pages.urls")),
    path("accounts/enrol/<str:secret>/", two_factor.enrol, name="two-factor-enrol"),
    path("admin/", admin.site.urls),
    path("sso/", include("portal.sso.urls")),
    path("api/v1/", include("portal.api.urls")),
    path("fhir/R4/", include("portal.fhir.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("media/", include("media_assets.urls")),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", health.metrics, name="prometheus-django-metrics"),
]

handler403 = "portal.errors.forbidden"
handler404 = "portal.errors.not_found"
handler500 = "portal.errors.server_error"
