"""Signing out of a session that came through the provider signs out at the provider too
(RP-initiated logout with the ID token as the hint), and comes back to the portal's page."""

import httpx

from portal.core.models import AuditEvent
from portal.sso.models import ExternalIdentity
from tests.factories import MembershipFactory, UserFactory
from tests.sso.conftest import person, sign_in_through_provider


def test_signing_out_ends_the_session_here_and_at_the_provider(client, sso):
    someone = person(groups=["portal-north-clinicians"])
    sign_in_through_provider(client, sso, someone)
    assert sso.signed_in == {someone.subject}

    answer = client.post("/accounts/logout/")

    assert answer.status_code == 302
    assert answer["Location"].startswith(f"{sso.issuer}/end_session?")
    assert client.get("/patients/").status_code == 302  # signed out here at once
    back = httpx.get(answer["Location"])  # the provider checks the hint and the return URI
    assert back.status_code == 302 and back.headers["location"] == (
        "http://testserver/sso/signed-out/"
    )
    assert sso.signed_in == set()
    assert sso.ended == [{
        "subject": someone.subject, "client_id": "respiratory-portal",
        "post_logout_redirect_uri": "http://testserver/sso/signed-out/",
    }]  # fmt: skip
    page = client.get(back.headers["location"])
    assert page.status_code == 200 and "You have signed out" in page.content.decode()
    event = AuditEvent.objects.get(action="sso.signed_out")
    assert event.actor == ExternalIdentity.objects.get().user
    assert event.detail == {"protocol": "oidc", "at_provider": True}


def test_a_local_account_signs_out_here_only(client, sso, site):
    local = UserFactory(username="breakglass")
    MembershipFactory(user=local, site=site)
    client.post("/accounts/login/", {"username": "breakglass", "password": "a-long-test-password"})

    answer = client.post("/accounts/logout/")

    assert answer.status_code == 200 and "You have signed out" in answer.content.decode()
    assert not AuditEvent.objects.filter(action="sso.signed_out").exists()
    assert sso.ended == []
