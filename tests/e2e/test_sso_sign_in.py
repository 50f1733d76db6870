""" "Sign in with the hospital account" in a real browser, through the loopback OpenID provider
and back: the clinician lands on their start page with the sites their groups grant, and signing
out signs out at the provider too."""

import json

import pytest

from portal.core.models import Membership
from tests.factories import SiteFactory
from tests.sso.oidc_provider import LoopbackProvider, Person

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(120)]


@pytest.fixture
def provider():
    provider = LoopbackProvider(
        client_id="respiratory-portal", client_secret="loopback-client-secret",
        redirect_uris=[], post_logout_redirect_uris=[],
    ).start()  # fmt: skip
    yield provider
    provider.stop()


def test_sign_in_with_the_hospital_account_and_sign_out_at_the_provider(
    page, process_env, tmp_path, provider
):
    from tests.processes import asgi_server

    SiteFactory(code="northgate", name="Northgate Chest Clinic")
    SiteFactory(code="southgate", name="Southgate Hospital")
    env = {**process_env, **provider.settings(), "SSO_GROUP_MAP": json.dumps({
        "portal-north-clinicians": "northgate:clinician",
        "portal-south-clinicians": "southgate:clinician",
    })}  # fmt: skip
    server = asgi_server(env, tmp_path)
    provider.redirect_uris.append(f"{server.url}/sso/oidc/callback/")
    provider.post_logout_redirect_uris.append(f"{server.url}/sso/signed-out/")
    provider.person = Person(
        subject="e2e-0001", groups=["portal-north-clinicians", "portal-south-clinicians"],
        preferred_username="dr.ward@hospital.example",
    )  # fmt: skip
    try:
        page.goto(f"{server.url}/accounts/login/")
        page.steps("sign-in page")
        assert page.locator("details.local-sign-in").get_attribute("open") is None
        page.click("text=Sign in with the hospital account")
        page.wait_for_url(f"{server.url}/")
        page.steps("signed in")

        assert page.locator(".user-menu summary").inner_text() == "dr.ward@hospital.example"
        assert {"northgate", "southgate"} == set(
            Membership.objects.filter(user__username="dr.ward@hospital.example").values_list(
                "site__code", flat=True
            )
        )
        assert provider.signed_in == {"e2e-0001"}
        page.goto(f"{server.url}/patients/")
        assert page.url == f"{server.url}/patients/"

        page.click(".user-menu summary")
        page.click("text=Sign out")
        page.wait_for_url(f"{server.url}/sso/signed-out/")
        page.steps("signed out")
        assert "You have signed out" in page.content()
        assert provider.signed_in == set()
        page.goto(f"{server.url}/patients/")
        assert page.url.startswith(f"{server.url}/accounts/login/")
        assert page.console_errors == []
    finally:
        server.stop()
