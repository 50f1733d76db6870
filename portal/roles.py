"""Django groups that carry each role's model permissions, provisioned idempotently.

Which *rows* a user reaches is decided by memberships in ``portal.permissions``; these groups decide
which *kinds* of object the admin lets a member handle at all.
"""

from django.contrib.auth.models import Group, Permission

from portal.models import Role

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
    ],
    Role.RESEARCHER: [],
}


def provision_roles() -> dict[str, Group]:
    """Create or update the role groups; safe to run any number of times."""
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
