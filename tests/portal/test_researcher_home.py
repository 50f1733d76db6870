"""A researcher's start page says what they may export and how (the export links, the API docs, a
token how-to); a 403 page always links somewhere the user may go, never to itself."""

import pytest

from portal.core.models import Role
from tests.factories import MembershipFactory, SiteFactory, UserFactory, verified_login

pytestmark = pytest.mark.django_db


@pytest.fixture
def researcher(client, site):
    user = UserFactory(username="res")
    MembershipFactory(user=user, site=site, role=Role.RESEARCHER)
    client.force_login(user)
    return user


def test_a_researchers_start_page_lists_their_sites_exports_docs_and_token_how_to(
    client, researcher, site
):
    response = client.get("/")
    page = response.content.decode()

    assert response.status_code == 200
    assert "North Clinic" in page and "Safe Harbor" in page
    assert "limited data set (dates and audio links)" not in page  # no agreement
    assert 'href="/api/v1/research/diagnostics/?format=csv"' in page
    assert 'href="/api/docs/"' in page
    assert "/api/v1/auth/token/" in page and "Authorization: Bearer" in page


def test_a_data_use_agreement_adds_the_limited_data_set(client, researcher, site):
    other = SiteFactory(code="east", name="East Clinic")
    MembershipFactory(user=researcher, site=other, role=Role.RESEARCHER,
                      data_use_agreement_until="2999-01-01")  # fmt: skip

    page = client.get("/").content.decode()

    assert "limited data set (dates and audio links)" in page
    assert "dataset=limited" in page


def test_the_export_link_works_for_the_signed_in_researcher(client, researcher):
    response = client.get("/api/v1/research/diagnostics/?format=csv")

    assert response.status_code == 200


def test_a_user_with_no_role_gets_a_403_that_does_not_send_them_back_to_it(client):
    verified_login(client, UserFactory(is_staff=True))

    response = client.get("/")
    page = response.content.decode()

    assert response.status_code == 403
    assert "Back to the start page" not in page
    assert 'href="/admin/"' in page and 'href="/accounts/password_change/"' in page
