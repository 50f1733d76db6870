"""Django groups that carry each role's model permissions, provisioned idempotently.

Permissions of the apps above are named by string (``media_assets.view_recording``), never
imported; they are created here before the groups are provisioned, after every ``migrate``
(``ClinicCoreConfig.ready``) and by ``manage.py setup_roles``.

Which *rows* a user reaches is decided by memberships in ``portal.core.permissions``; these groups decide
which *kinds* of object the admin lets a member handle at all.
"""

from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions
from django.db import DEFAULT_DB_ALIAS

from portal.core.models import Role

GROUP_NAMES = {
    Role.CLINICIAN: "Clinicians",
    Role.SITE_ADMIN: "Site administrators",
    Role.RESEARCHER: "Researchers",
}

GROUP_PERMISSIONS = {
    Role.CLINICIAN: [
        "portal.view_patient",
        "portal.add_patient",
        "portal.change_patient",
        "media_assets.view_recording",
        "media_assets.add_recording",
        "diagnostics.view_diagnostic",
        "diagnostics.change_diagnostic",
    ],
    Role.SITE_ADMIN: [
        "auth.view_user",
        "auth.add_user",
        "auth.change_user",
        "portal.view_site",
        "portal.view_membership",
        "portal.add_membership",
        "portal.change_membership",
        "portal.delete_membership",
        "portal.view_patient",
        "portal.add_patient",
        "portal.change_patient",
        "portal.view_auditevent",
        "media_assets.view_recording",
        "diagnostics.view_diagnostic",
        "diagnostics.change_diagnostic",
        # the agreement between model and reviewers at their sites (diagnostics.admin_watch)
        "diagnostics.view_dailyagreement",
    ],
    Role.RESEARCHER: [],
}


def provision_roles(apps=global_apps) -> dict[str, object]:
    """Create or update the role groups; safe to run any number of times.

    ``apps``: the model registry (a migration passes its historical one).
    """
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    groups = {}
    for role, name in GROUP_NAMES.items():
        group, _ = Group.objects.get_or_create(name=name)
        codenames = GROUP_PERMISSIONS[role]
        perms = [
            Permission.objects.get(content_type__app_label=label, codename=codename)
            for label, codename in (p.split(".", 1) for p in codenames)
        ]
        group.permissions.set(perms)
        groups[role] = group
    return groups


APPS_WITH_ROLE_PERMISSIONS = ("auth", "portal", "media_assets", "diagnostics")


def provision_after_migrate(apps=global_apps, using=DEFAULT_DB_ALIAS, **kwargs) -> None:
    """Provision from a migration or after ``migrate`` (also after a test database is flushed).

    Django creates permissions only after the last migration, app by app: those the groups draw
    on are created here first (idempotent, as Django's own step is).
    """
    for label in APPS_WITH_ROLE_PERMISSIONS:
        create_permissions(global_apps.get_app_config(label), verbosity=0, apps=apps, using=using)
    provision_roles(apps=apps)
