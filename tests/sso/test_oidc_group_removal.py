"""A group the provider takes away ends what it granted at the next sign-in: the membership, and
with it the user's other browser sessions and API tokens."""

from django.test import Client

from portal.core.models import AuditEvent, Membership
from portal.core.rest.authentication import StampedRefreshToken
from portal.sso.models import ExternalIdentity
from tests.sso.conftest import person, sign_in_through_provider

BOTH = ["portal-north-clinicians", "portal-south-admins"]


def api_status(token: str) -> int:
    return (
        Client().get("/api/v1/patients/", headers={"Authorization": f"Bearer {token}"}).status_code
    )


def test_a_removed_group_ends_its_membership_the_old_session_and_the_old_token(client, sso):
    sign_in_through_provider(client, sso, person(groups=BOTH, amr=["pwd", "mfa"]))
    user = ExternalIdentity.objects.get().user
    old_token = str(StampedRefreshToken.for_user(user).access_token)
    assert client.get("/patients/").status_code == 200 and api_status(old_token) == 200

    elsewhere = Client()
    sign_in_through_provider(elsewhere, sso, person(groups=["portal-north-clinicians"]))

    user.refresh_from_db()
    assert set(Membership.objects.filter(user=user).values_list("site__code", "role")) == {
        ("northgate", "clinician")
    }
    assert not user.is_staff
    assert client.get("/patients/").status_code == 302  # the old session: signed out
    assert api_status(old_token) == 401  # the old token: refused
    assert elsewhere.get("/patients/").status_code == 200  # the new sign-in works
    assert api_status(str(StampedRefreshToken.for_user(user).access_token)) == 200
    change = AuditEvent.objects.filter(action="sso.memberships_changed").latest("pk")
    assert change.detail["removed"] == ["southgate:site_admin"] and change.detail["added"] == []
    assert AuditEvent.objects.filter(action="auth.credentials_revoked", actor=user).exists()


def test_the_same_groups_again_change_nothing_and_end_nothing(client, sso):
    sign_in_through_provider(client, sso, person(groups=["portal-north-clinicians"]))
    user = ExternalIdentity.objects.get().user
    token = str(StampedRefreshToken.for_user(user).access_token)

    sign_in_through_provider(Client(), sso, person(groups=["portal-north-clinicians"]))

    assert client.get("/patients/").status_code == 200
    assert api_status(token) == 200
    assert AuditEvent.objects.filter(action="sso.memberships_changed").count() == 1


def test_losing_every_group_removes_every_membership_and_refuses_the_sign_in(client, sso):
    sign_in_through_provider(client, sso, person(groups=["portal-north-clinicians"]))
    user = ExternalIdentity.objects.get().user

    elsewhere = Client()
    answer = sign_in_through_provider(elsewhere, sso, person(groups=[]))

    assert answer["Location"] == "/sso/refused/"
    assert not Membership.objects.filter(user=user).exists()
    assert client.get("/patients/").status_code == 302
    assert elsewhere.get("/patients/").status_code == 302
    refusal = AuditEvent.objects.get(action="sso.refused")
    assert refusal.actor == user and refusal.detail["reason"] == "no_mapped_group"


def test_a_researchers_data_use_agreement_stays_with_a_membership_that_stays(client, sso):
    import datetime

    sign_in_through_provider(client, sso, person(groups=["portal-researchers"]))
    membership = Membership.objects.get()
    membership.data_use_agreement_until = datetime.date(2030, 1, 1)
    membership.save()

    sign_in_through_provider(Client(), sso, person(groups=["portal-researchers"]))

    assert Membership.objects.get().data_use_agreement_until == datetime.date(2030, 1, 1)
