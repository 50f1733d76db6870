"""Finding 2: API tokens could not be revoked. After a password change the old access token still
answered and the old refresh token still minted access tokens; signing out revoked nothing. Now
each of these events ends every token of the user at once: refresh tokens are blacklisted, and
access tokens carry the user's token generation, which the event moves on."""

import pytest
from django.test import Client
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from portal.core.models import Role
from tests.factories import (
    MembershipFactory,
    PatientFactory,
    SiteFactory,
    UserFactory,
    verified_login,
)
from tests.security.auth_helpers import PASSWORD, membership_of, obtain_tokens, refresh, with_token

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "another-long-password-2"


@pytest.fixture
def ward(site):
    PatientFactory(site=site)
    user = UserFactory(username="ward")
    MembershipFactory(user=user, site=site, role=Role.CLINICIAN)
    return user


def administrator() -> Client:
    admin_client = Client()
    verified_login(admin_client, UserFactory(username="root", is_staff=True, is_superuser=True))
    return admin_client


def sign_out_on_the_page(user, tokens):
    page = Client()
    page.force_login(user)
    page.post("/accounts/logout/")


def sign_out_on_the_api(user, tokens):
    client = Client()
    response = client.post(
        "/api/v1/auth/token/revoke/", headers={"Authorization": f"Bearer {tokens['access']}"}
    )
    assert response.status_code == 204


def change_password(user, tokens):
    page = Client()
    page.force_login(user)
    response = page.post(
        "/accounts/password_change/",
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert response.status_code == 302


def change_password_in_the_admin(user, tokens):
    response = administrator().post(
        f"/admin/auth/user/{user.pk}/password/",
        {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"},
    )
    assert response.status_code == 302, response.content[:2000]


def deactivate(user, tokens):
    response = administrator().post(
        f"/admin/auth/user/{user.pk}/change/",
        {"username": user.username, "is_active": "", "date_joined_0": "2025-01-01",
         "date_joined_1": "00:00:00", "last_login_0": "", "last_login_1": ""},
    )  # fmt: skip
    assert response.status_code == 302, response.content[:2000]
    user.refresh_from_db()
    assert not user.is_active


def remove_membership(user, tokens):
    membership = membership_of(user)
    response = administrator().post(
        f"/admin/portal/membership/{membership.pk}/delete/", {"post": "yes"}
    )
    assert response.status_code == 302


EVENTS = [
    sign_out_on_the_page, sign_out_on_the_api, change_password, change_password_in_the_admin,
    deactivate, remove_membership,
]  # fmt: skip


@pytest.mark.parametrize("event", EVENTS, ids=[e.__name__ for e in EVENTS])
def test_the_event_ends_the_users_access_and_refresh_tokens(client, ward, event):
    tokens = obtain_tokens(client, "ward").json()
    assert with_token(client, "get", "/api/v1/patients/", tokens["access"]).status_code == 200

    event(ward, tokens)

    old_access = with_token(client, "get", "/api/v1/patients/", tokens["access"])
    assert old_access.status_code == 401
    assert old_access.json()["error"]["code"] == "token_revoked"
    assert refresh(client, tokens["refresh"]).status_code == 401
    outstanding = OutstandingToken.objects.filter(user=ward)
    assert outstanding.exists()
    assert BlacklistedToken.objects.filter(token__in=outstanding).count() == outstanding.count()


def test_refresh_tokens_rotate_and_a_used_one_is_refused(client, ward):
    tokens = obtain_tokens(client, "ward").json()

    rotated = refresh(client, tokens["refresh"])
    again = refresh(client, tokens["refresh"])

    assert rotated.status_code == 200 and rotated.json()["refresh"] != tokens["refresh"]
    assert again.status_code == 401
    fresh = with_token(client, "get", "/api/v1/patients/", rotated.json()["access"])
    assert fresh.status_code == 200


def test_tokens_issued_after_the_event_work(client, ward):
    tokens = obtain_tokens(client, "ward").json()
    sign_out_on_the_api(ward, tokens)

    new = obtain_tokens(client, "ward").json()

    assert with_token(client, "get", "/api/v1/patients/", new["access"]).status_code == 200
    assert refresh(client, new["refresh"]).status_code == 200


def delete_user(user):
    response = administrator().post(f"/admin/auth/user/{user.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302, response.content[:2000]


def delete_users_in_bulk(user):
    response = administrator().post(
        "/admin/auth/user/",
        {"action": "delete_selected", "_selected_action": [user.pk], "post": "yes"},
    )
    assert response.status_code == 302, response.content[:2000]


def delete_their_only_other_site(user):
    """The user's membership of a second site (no patients, so it may be deleted) goes with it."""
    other = SiteFactory(code="closing")
    MembershipFactory(user=user, site=other, role=Role.CLINICIAN)
    tokens = obtain_tokens(Client(), user.username).json()
    response = administrator().post(f"/admin/portal/site/{other.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302, response.content[:2000]
    return tokens


def delete_sites_in_bulk(user):
    other = SiteFactory(code="closing")
    MembershipFactory(user=user, site=other, role=Role.CLINICIAN)
    tokens = obtain_tokens(Client(), user.username).json()
    response = administrator().post(
        "/admin/portal/site/",
        {"action": "delete_selected", "_selected_action": [other.pk], "post": "yes"},
    )
    assert response.status_code == 302, response.content[:2000]
    return tokens


@pytest.mark.parametrize("deletion", [delete_user, delete_users_in_bulk])
def test_deleting_the_user_blacklists_every_token_before_it_goes(client, ward, deletion):
    tokens = obtain_tokens(client, "ward").json()
    outstanding = list(OutstandingToken.objects.filter(user=ward).values_list("pk", flat=True))

    deletion(ward)

    assert not type(ward).objects.filter(pk=ward.pk).exists()
    assert with_token(client, "get", "/api/v1/patients/", tokens["access"]).status_code == 401
    assert refresh(client, tokens["refresh"]).status_code == 401
    assert outstanding
    assert BlacklistedToken.objects.filter(token__in=outstanding).count() == len(outstanding)


@pytest.mark.parametrize("deletion", [delete_their_only_other_site, delete_sites_in_bulk])
def test_deleting_a_site_ends_its_members_tokens(client, ward, deletion):
    tokens = deletion(ward)

    old_access = with_token(client, "get", "/api/v1/patients/", tokens["access"])
    assert old_access.status_code == 401
    assert old_access.json()["error"]["code"] == "token_revoked"
    assert refresh(client, tokens["refresh"]).status_code == 401
    # Still a member of the first site: a new sign-in works.
    new = obtain_tokens(client, "ward").json()
    assert with_token(client, "get", "/api/v1/patients/", new["access"]).status_code == 200
