"""Single sign-on routes (``/sso/``); the provider is registered with the callback and the
signed-out page as its redirect URIs (docs/integration.md)."""

from importlib import import_module

from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from portal.sso import oidc, views

app_name = "sso"


def saml_view(name: str):
    """A view of ``portal.sso.saml_views``, imported on the first SAML request rather than with
    the routes: pysaml2 loads its XML schemas when imported, a second of every process's start
    (web workers, management commands), and most sites sign in another way."""

    def view(request, *args, **kwargs):
        view_class = getattr(import_module("portal.sso.saml_views"), name)
        return view_class.as_view()(request, *args, **kwargs)

    return view


urlpatterns = [
    path("oidc/start/", oidc.StartView.as_view(), name="oidc-start"),
    path("oidc/callback/", oidc.CallbackView.as_view(), name="oidc-callback"),
    path("saml/login/", saml_view("StartView"), name="saml-start"),
    # The provider's answer is a cross-site POST: its signature, not a CSRF token, vouches for it.
    path("saml/acs/", csrf_exempt(saml_view("AssertionConsumerView")), name="saml-acs"),
    path("saml/metadata/", saml_view("SpMetadataView"), name="saml-metadata"),
    path("second-factor/", views.second_factor_step, name="second-factor"),
    path("refused/", views.refused, name="refused"),
    path("signed-out/", views.signed_out, name="signed-out"),
]
