from django.apps import AppConfig
from django.db.models.signals import post_migrate


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = "Clinic"

    def ready(self):
        from portal.audit import connect_sign_in_events
        from portal.roles import provision_after_migrate

        connect_sign_in_events()
        # After every migrate (and a test database's flush): the role groups match portal.roles.
        post_migrate.connect(provision_after_migrate, sender=self, dispatch_uid="portal-roles")
