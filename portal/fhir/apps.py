from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class FhirConfig(AppConfig):
    """The hospital record over FHIR R4 (top layer: it may import every app, none imports it).

    Diagnostics announces results and reviews with its own signals (``diagnostics.signals``); this
    app listens, so diagnostics never imports it.
    """

    name = "portal.fhir"
    label = "fhir"
    verbose_name = _("Hospital record (FHIR)")

    def ready(self):
        from portal.fhir.delivery import connect_diagnostic_signals

        connect_diagnostic_signals()
