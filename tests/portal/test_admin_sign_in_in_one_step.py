"""An administrator with one authenticator signs in to the admin in one step: username, password
and code together, without first being asked to choose a device (issue 20, item 5)."""

import pytest

from tests.factories import totp_device
from tests.security.auth_helpers import PASSWORD, administrator_with_device, code_for

pytestmark = pytest.mark.django_db


def sign_in(client, username: str, code: str, **extra):
    return client.post(
        "/admin/login/?next=/admin/",
        {"username": username, "password": PASSWORD, "otp_token": code, **extra},
    )


def test_one_device_and_a_correct_code_sign_in_at_the_first_try(client):
    user, device = administrator_with_device()

    response = sign_in(client, user.username, code_for(device))

    assert response.status_code == 302 and response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


def test_a_wrong_code_is_refused_as_a_wrong_code_not_a_missing_device(client):
    user, device = administrator_with_device()

    response = sign_in(
        client, user.username, "000000" if code_for(device) != "000000" else "111111"
    )

    assert response.status_code == 200
    assert b"Please select a device" not in response.content
    assert client.get("/admin/").status_code == 302


def test_with_two_devices_the_user_still_chooses_one(client):
    user, device = administrator_with_device()
    totp_device(user, key="4142434445464748494a4b4c4d4e4f5051525354")  # a spare phone

    response = sign_in(client, user.username, code_for(device))

    assert response.status_code == 200
    assert b"Please select a device" in response.content
