"""The role groups come with the database: ``migrate`` provisions them and keeps them
in line with ``portal.core.roles``, and ``setup_roles`` does the same by hand, any number of times."""

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command

from portal.core.models import Role
from portal.core.roles import GROUP_NAMES, GROUP_PERMISSIONS

pytestmark = pytest.mark.django_db


def granted() -> dict[str, set[str]]:
    return {
        group.name: {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.all()}
        for group in Group.objects.prefetch_related("permissions__content_type")
    }


EXPECTED = {GROUP_NAMES[role]: set(GROUP_PERMISSIONS[role]) for role in GROUP_NAMES}


def test_a_migrated_database_has_every_role_group_with_its_permissions():
    assert granted() == EXPECTED


def test_setup_roles_repairs_drift_and_is_idempotent():
    clinicians = Group.objects.get(name=GROUP_NAMES[Role.CLINICIAN])
    clinicians.permissions.add(Permission.objects.get(codename="delete_patient"))
    Group.objects.filter(name=GROUP_NAMES[Role.RESEARCHER]).delete()

    call_command("setup_roles", verbosity=0)
    call_command("setup_roles", verbosity=0)

    assert granted() == EXPECTED


def test_migrate_brings_the_groups_back_in_line():
    Group.objects.get(name=GROUP_NAMES[Role.SITE_ADMIN]).permissions.clear()

    call_command("migrate", verbosity=0)

    assert granted() == EXPECTED
