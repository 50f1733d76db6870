from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SingleSignOnConfig(AppConfig):
    """Sign-in through the hospital's identity provider: the link between a local user and the
    provider's (issuer, subject), the group mapping and the provider's second factor."""

    name = "portal.sso"
    label = "sso"
    verbose_name = _("Single sign-on")

    def ready(self):
        from portal.sso import checks  # noqa: F401  (registers the configuration check)
