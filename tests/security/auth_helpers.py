"""Shared steps of the authentication tests: users with an authenticator, tokens, sockets."""

from django_otp.oath import totp

from portal.core.models import Membership, Role
from tests.factories import MembershipFactory, UserFactory, totp_device

PASSWORD = "a-long-test-password"


def code_for(device) -> str:
    """The code the user's authenticator app shows now."""
    return f"{totp(device.bin_key, device.step, device.t0, device.digits, device.drift):06d}"


def next_code(device) -> str:
    """A code the device has not accepted yet (a device refuses a code it has just accepted)."""
    return f"{totp(device.bin_key, device.step, device.t0, device.digits, 1):06d}"


def site_admin_with_device(site, username: str = "sadmin"):
    user = UserFactory(username=username, is_staff=True)
    MembershipFactory(user=user, site=site, role=Role.SITE_ADMIN)
    return user, totp_device(user)


def administrator_with_device(username: str = "root"):
    user = UserFactory(username=username, is_staff=True, is_superuser=True)
    return user, totp_device(user)


def obtain_tokens(client, username: str, password: str = PASSWORD, code: str | None = None):
    body = {"username": username, "password": password}
    if code is not None:
        body["otp_token"] = code
    return client.post("/api/v1/auth/token/", body, content_type="application/json")


def with_token(client, method: str, path: str, access: str, **kwargs):
    return getattr(client, method)(path, headers={"Authorization": f"Bearer {access}"}, **kwargs)


def refresh(client, refresh_token: str):
    return client.post(
        "/api/v1/auth/token/refresh/", {"refresh": refresh_token}, content_type="application/json"
    )


def sign_in_on_the_page(client, username: str, password: str = PASSWORD, code: str = ""):
    return client.post(
        "/accounts/login/", {"username": username, "password": password, "otp_token": code}
    )


def membership_of(user) -> Membership:
    return Membership.objects.get(user=user)
