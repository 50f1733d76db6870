"""The provider's MFA claim is the second factor: ``amr`` naming a second method, or a
configured ``acr``. Without it an account that needs a second factor types its local code, or
is refused when it has no authenticator."""

from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice

from portal.core import enrolment
from portal.core.models import AuditEvent
from portal.sso.models import ExternalIdentity
from tests.factories import totp_device
from tests.security.auth_helpers import code_for
from tests.sso.conftest import person, sign_in_through_provider

ADMIN = ["portal-south-admins"]  # site administrators always need a second factor


def test_an_mfa_claim_lets_a_site_administrator_in_with_a_verified_session(client, sso):
    sign_in_through_provider(client, sso, person(groups=ADMIN, amr=["pwd", "otp"]))

    assert client.get("/admin/").status_code == 200
    assert client.get("/api/v1/patients/").status_code == 200  # the API takes the session too
    event = AuditEvent.objects.get(action="sso.signed_in")
    assert event.detail["second_factor"] == "provider"


def test_a_configured_acr_counts_as_the_second_factor(client, sso, settings):
    settings.OIDC_MFA_ACR_VALUES = ["urn:hospital:loa:mfa"]

    sign_in_through_provider(
        client, sso, person(groups=ADMIN, amr=["pwd"], acr="urn:hospital:loa:mfa")
    )

    assert client.get("/admin/").status_code == 200


def test_without_the_claim_and_without_an_authenticator_the_sign_in_is_refused(client, sso):
    answer = sign_in_through_provider(client, sso, person(groups=ADMIN, amr=["pwd"]))

    assert answer["Location"] == "/sso/refused/"
    assert "second factor" in client.get("/sso/refused/").content.decode()
    assert client.get("/admin/").status_code == 302
    assert client.get("/").status_code == 302
    assert AuditEvent.objects.get(action="sso.refused").detail["reason"] == (
        "second_factor_missing"
    )


def test_without_the_claim_the_local_code_is_asked_for(client, sso):
    sign_in_through_provider(client, sso, person(groups=ADMIN, amr=["pwd", "mfa"]))
    user = ExternalIdentity.objects.get().user
    device = totp_device(user)
    client.post("/accounts/logout/")

    answer = sign_in_through_provider(client, sso, person(groups=ADMIN, amr=["pwd"]))

    assert answer["Location"] == "/sso/second-factor/"
    assert client.get("/admin/").status_code == 302  # not signed in before the code
    wrong = client.post("/sso/second-factor/", {"otp_token": "000000"})
    assert wrong.status_code == 200 and "did not match" in wrong.content.decode()
    device.refresh_from_db()
    device.throttle_reset()  # a wrong code makes the device wait before it takes the next one
    right = client.post("/sso/second-factor/", {"otp_token": code_for(device)})
    assert right.status_code == 302
    assert client.get("/admin/").status_code == 200
    assert AuditEvent.objects.filter(action="sso.signed_in").latest("pk").detail == {
        "protocol": "oidc", "second_factor": "code",
    }  # fmt: skip


def test_the_code_step_is_only_for_the_browser_that_signed_in_at_the_provider(client, sso):
    assert client.get("/sso/second-factor/")["Location"] == "/accounts/login/"


def test_an_account_that_needs_no_second_factor_signs_in_without_the_claim(client, sso):
    sign_in_through_provider(client, sso, person(groups=["portal-north-clinicians"], amr=["pwd"]))

    assert client.get("/patients/").status_code == 200


def test_the_provider_sign_in_stands_in_for_the_password_an_enrolment_link_asks(client, sso):
    sign_in_through_provider(client, sso, person(groups=ADMIN, amr=["pwd"]))  # refused
    user = ExternalIdentity.objects.get().user
    link = enrolment.issue_link(user=user)

    assert "Your password" in Client().get(link).content.decode()  # another browser: no
    shown = client.get(link)
    assert shown.status_code == 200 and "Your password" not in shown.content.decode()
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    assert client.post(link, {"token": code_for(device)}).status_code == 302
    assert client.get("/admin/").status_code == 200
