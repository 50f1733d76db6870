"""Single sign-on routes (``/sso/``); the provider is registered with the callback and the
signed-out page as its redirect URIs (docs/integration.md)."""

from django.urls import path

from portal.sso import oidc, views

app_name = "sso"

urlpatterns = [
    path("oidc/start/", oidc.StartView.as_view(), name="oidc-start"),
    path("oidc/callback/", oidc.CallbackView.as_view(), name="oidc-callback"),
    path("second-factor/", views.second_factor_step, name="second-factor"),
    path("refused/", views.refused, name="refused"),
    path("signed-out/", views.signed_out, name="signed-out"),
]
