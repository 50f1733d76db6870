"""The loopback OpenID provider, the portal configured for it, and a sign-in through it with the
test client over real HTTP (the provider is reached by the portal's own HTTP client, and by
httpx here where the browser would go)."""

import httpx
import pytest

from tests.factories import SiteFactory
from tests.sso.oidc_provider import LoopbackProvider, Person

GROUP_MAP = {
    "portal-north-clinicians": "northgate:clinician",
    "portal-south-admins": ["southgate:site_admin"],
    "portal-researchers": "northgate:researcher",
}


@pytest.fixture
def provider():
    provider = LoopbackProvider(
        client_id="respiratory-portal",
        client_secret="loopback-client-secret",
        redirect_uris=["http://testserver/sso/oidc/callback/"],
        post_logout_redirect_uris=["http://testserver/sso/signed-out/"],
    ).start()
    yield provider
    provider.stop()


@pytest.fixture
def sso(settings, provider, db):
    """The portal signed up with the provider, its group map and the two sites it names."""
    for name, value in provider.settings().items():
        setattr(settings, name, value)
    settings.SSO_GROUP_MAP = GROUP_MAP
    settings.OIDC_TIMEOUT = 5
    SiteFactory(code="northgate", name="North clinic")
    SiteFactory(code="southgate", name="South clinic")
    return provider


def sign_in_through_provider(client, provider, person: Person | None, next_url: str = ""):
    """Start at the portal, let the provider answer for ``person`` (None: the provider refuses),
    and hand its answer back to the portal: the browser's three hops. Returns the callback's
    response."""
    start = client.get("/sso/oidc/start/", {"next": next_url} if next_url else {})
    assert start.status_code == 302, start
    assert start["Location"].startswith(f"{provider.issuer}/authorize?")
    provider.person = person
    answer = httpx.get(start["Location"])
    assert answer.status_code == 302, answer.text
    return client.get(answer.headers["location"])


def person(subject: str = "0f1e2d3c", **kwargs) -> Person:
    return Person(subject=subject, **kwargs)
