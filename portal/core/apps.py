from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class ClinicCoreConfig(AppConfig):
    """The bottom layer: sites, memberships, patients, audit and permissions.

    Its label stays ``portal``, so tables, permissions (``portal.view_patient``) and the migration
    history are those the project has always had.
    """

    name = "portal.core"
    label = "portal"
    verbose_name = _("Clinic")

    def ready(self):
        from portal.core.audit import connect_sign_in_events
        from portal.core.revocation import connect_sign_out
        from portal.core.roles import provision_after_migrate

        connect_sign_in_events()
        connect_sign_out()
        # After every migrate (and a test database's flush): the role groups match portal.core.roles.
        post_migrate.connect(provision_after_migrate, sender=self, dispatch_uid="portal-roles")
