"""Single sign-on routes (``/sso/``); the provider is registered with the callback and the
signed-out page as its redirect URIs (docs/integration.md)."""

from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from portal.sso import oidc, saml, views

app_name = "sso"

urlpatterns = [
    path("oidc/start/", oidc.StartView.as_view(), name="oidc-start"),
    path("oidc/callback/", oidc.CallbackView.as_view(), name="oidc-callback"),
    path("saml/login/", saml.StartView.as_view(), name="saml-start"),
    # The provider's answer is a cross-site POST: its signature, not a CSRF token, vouches for it.
    path("saml/acs/", csrf_exempt(saml.AssertionConsumerView.as_view()), name="saml-acs"),
    path("saml/metadata/", saml.SpMetadataView.as_view(), name="saml-metadata"),
    path("second-factor/", views.second_factor_step, name="second-factor"),
    path("refused/", views.refused, name="refused"),
    path("signed-out/", views.signed_out, name="signed-out"),
]
