from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PortalConfig(AppConfig):
    """The top layer: project wiring, clinician pages, API routing and the research export.

    It holds no models; it is an app for its template tags and management commands.
    """

    name = "portal"
    label = "portal_site"
    verbose_name = _("Portal")
