"""A clinician of several sites sees all of them by default and can narrow the pages to one; the
choice lives in the session and cannot reach a site they do not belong to."""

import pytest

from portal.core.models import Role
from tests.factories import MembershipFactory, PatientFactory, SiteFactory
from tests.portal.page_helpers import text_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_site_client(client, clinician, site, other_site):
    MembershipFactory(user=clinician, site=other_site, role=Role.CLINICIAN)
    PatientFactory(site=site, external_id="N-1")
    PatientFactory(site=other_site, external_id="S-1")
    client.force_login(clinician)
    return client


def listed(client) -> list[str]:
    return sorted(p.external_id for p in client.get("/patients/").context["page"].items)


def test_all_my_sites_is_the_default_and_the_switcher_is_shown(two_site_client):
    response = two_site_client.get("/patients/")

    assert listed(two_site_client) == ["N-1", "S-1"]
    assert "All my sites" in text_of(response)


def test_choosing_a_site_narrows_the_pages_until_all_sites_is_chosen_again(
    two_site_client, other_site
):
    response = two_site_client.post("/sites/switch/", {"site": other_site.pk, "next": "/patients/"})
    assert response["Location"] == "/patients/"
    assert listed(two_site_client) == ["S-1"]

    two_site_client.post("/sites/switch/", {"site": ""})
    assert listed(two_site_client) == ["N-1", "S-1"]


def test_a_site_the_user_does_not_belong_to_is_ignored(two_site_client):
    stranger = SiteFactory()
    PatientFactory(site=stranger, external_id="X-1")

    two_site_client.post("/sites/switch/", {"site": stranger.pk})

    assert listed(two_site_client) == ["N-1", "S-1"]


def test_a_clinician_of_one_site_sees_its_name_instead_of_a_switcher(client, clinician, site):
    client.force_login(clinician)

    response = client.get("/patients/")

    assert b'name="site"' not in response.content
    assert site.name in text_of(response)
