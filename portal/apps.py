from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = "Clinic"

    def ready(self):
        from portal.audit import connect_sign_in_events

        connect_sign_in_events()
