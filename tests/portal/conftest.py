"""A site administrator of the first site, and a client signed in to the admin as them."""

import pytest

from portal.core.models import Role
from portal.core.roles import provision_roles
from tests.factories import MembershipFactory, UserFactory, verified_login


@pytest.fixture
def site_admin(site):
    groups = provision_roles()
    user = UserFactory(username="siteadmin", is_staff=True)
    user.groups.add(groups[Role.SITE_ADMIN])
    MembershipFactory(user=user, site=site, role=Role.SITE_ADMIN)
    return user


@pytest.fixture
def admin_client(client, site_admin):
    verified_login(client, site_admin)
    return client
