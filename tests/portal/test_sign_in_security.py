"""Sign-in is audited, needs a second factor for staff, and repeated failures lock the account."""

import pytest
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError

from portal.core.models import AuditEvent
from tests.factories import UserFactory, current_totp, totp_device

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(db):
    user = UserFactory(username="auditee", is_staff=True)
    return user, totp_device(user)


def admin_sign_in(client, username, password, token="", device=None):
    return client.post(
        "/admin/login/?next=/admin/",
        {"username": username, "password": password, "otp_token": token, "next": "/admin/",
         "otp_device": device.persistent_id if device else ""},
    )  # fmt: skip


def test_sign_in_sign_out_and_failed_sign_in_are_audited_without_credentials(client, staff):
    user, device = staff

    admin_sign_in(client, "auditee", "wrong-password-typed", current_totp(device), device)
    signed_in = admin_sign_in(
        client, "auditee", "a-long-test-password", current_totp(device), device
    )
    client.post("/admin/logout/")

    assert signed_in.status_code == 302
    actions = list(AuditEvent.objects.order_by("id").values_list("action", "actor_id"))
    assert actions == [
        ("auth.sign_in_failed", None),
        ("auth.signed_in", user.pk),
        ("auth.signed_out", user.pk),
        ("auth.credentials_revoked", user.pk),  # signing out ends the user's API tokens
    ]
    failed = AuditEvent.objects.get(action="auth.sign_in_failed")
    assert "wrong-password-typed" not in str(failed.detail) and failed.request_id


def test_the_admin_refuses_a_staff_password_without_the_one_time_code(client, staff):
    _user, device = staff
    response = admin_sign_in(client, "auditee", "a-long-test-password", "000000", device)

    assert response.status_code == 200  # the sign-in form again
    assert "_auth_user_id" not in client.session


def test_repeated_failures_lock_the_account_even_with_the_right_password(client, settings, staff):
    _user, device = staff
    for _ in range(settings.AXES_FAILURE_LIMIT):
        admin_sign_in(client, "auditee", "not-the-password", current_totp(device), device)

    locked = admin_sign_in(client, "auditee", "a-long-test-password", current_totp(device), device)

    assert locked.status_code == 429
    assert b"Too many failed sign-ins" in locked.content
    assert "_auth_user_id" not in client.session


@pytest.mark.parametrize("password", ["short1!", "password1234", "123456789012"])
def test_weak_passwords_are_refused(password):
    with pytest.raises(ValidationError):
        validate_password(password)
