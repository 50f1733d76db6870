"""A researcher who signs in on the web lands on their own start page (what they may export, the
API docs, how to get a token), not on "You do not have access to this"; a 403 page's links lead
somewhere they may go."""

import pytest

from portal.core.models import Role
from tests.e2e.conftest import sign_in
from tests.factories import MembershipFactory, UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(120)]


def test_a_researcher_signs_in_to_their_exports_and_a_403_leads_back_there(page, server, site):
    MembershipFactory(user=UserFactory(username="res"), site=site, role=Role.RESEARCHER)

    sign_in(page, server.url, "res")
    page.steps("start page")
    assert "You do not have access to this" not in page.inner_text("main")
    assert page.locator("h1").inner_text() == "Research exports"
    assert page.locator("[data-export-link]").count() >= 3
    assert page.locator("[data-token-howto]").is_visible()

    page.goto(f"{server.url}/patients/")
    assert "You do not have access to this" in page.inner_text("main")
    page.click("text=Back to the start page")
    page.wait_for_load_state()
    page.steps("back")
    assert page.locator("h1").inner_text() == "Research exports"

    page.goto(f"{server.url}/")
    page.click("[data-api-docs]")
    page.wait_for_load_state()
    assert page.url.endswith("/api/docs/") and "403" not in page.title()
