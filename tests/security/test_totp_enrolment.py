"""Finding 11: enrolling an authenticator needed only the password (a staff user without a device
enrolled one and then reached /admin/), and the admin's one-time-code step wrote the password back
into the page. Now a first device is enrolled only through a one-time link an administrator issues,
and no sign-in page ever renders a password."""

import re
from io import StringIO

import pytest
from django.core.management import call_command
from django_otp.plugins.otp_totp.models import TOTPDevice

from portal.core.models import AuditEvent
from tests.factories import UserFactory, current_totp, totp_device, verified_login
from tests.security.auth_helpers import PASSWORD, code_for

pytestmark = pytest.mark.django_db


def test_a_password_alone_enrols_no_authenticator(client):
    staff = UserFactory(username="newstaff", is_staff=True)
    client.force_login(staff)  # signed in with the password alone, as the old page allowed

    page = client.get("/accounts/two-factor/")
    device = TOTPDevice.objects.filter(user=staff).first()
    if device is not None:
        client.post("/accounts/two-factor/", {"token": current_totp(device)})

    assert page.status_code != 200 or b"Enter this key" not in page.content
    assert not TOTPDevice.objects.filter(user=staff, confirmed=True).exists()
    assert client.get("/admin/").status_code == 302


def issue_link(username: str) -> str:
    out = StringIO()
    call_command("issue_enrolment_link", username, stdout=out)
    return re.search(r"(/accounts/enrol/[\w-]+/)", out.getvalue()).group(1)


def test_an_issued_enrolment_link_enrols_one_device_once(client):
    staff = UserFactory(username="newstaff", is_staff=True)
    link = issue_link("newstaff")

    wrong = client.post(link, {"password": "not-the-password"})
    assert b"Enter this key" not in wrong.content
    shown = client.post(link, {"password": PASSWORD})
    assert shown.status_code == 200 and b"Enter this key" in shown.content
    assert PASSWORD.encode() not in shown.content
    device = TOTPDevice.objects.get(user=staff, confirmed=False)
    enrolled = client.post(link, {"token": code_for(device)})

    assert enrolled.status_code == 302
    assert TOTPDevice.objects.filter(user=staff, confirmed=True).count() == 1
    assert client.get("/admin/").status_code == 200  # signed in, second factor verified
    assert AuditEvent.objects.filter(action="auth.two_factor_enrolled", actor=staff).exists()
    client.logout()
    assert client.get(link).status_code == 404  # used: a link enrols once


def test_an_administrator_issues_a_link_from_the_admin(client):
    admin = UserFactory(username="root", is_staff=True, is_superuser=True)
    verified_login(client, admin)
    staff = UserFactory(username="newstaff", is_staff=True)

    response = client.post(
        "/admin/auth/user/",
        {"action": "issue_enrolment_link", "_selected_action": [staff.pk]},
        follow=True,
    )

    assert re.search(rb"/accounts/enrol/[\w-]+/", response.content)
    assert AuditEvent.objects.filter(action="auth.enrolment_link_issued", actor=admin).exists()


def test_the_admins_one_time_code_step_never_echoes_the_password(client):
    staff = UserFactory(username="auditee", is_staff=True)
    device = totp_device(staff)

    response = client.post(
        "/admin/login/?next=/admin/",
        {"username": "auditee", "password": PASSWORD, "otp_token": "",
         "otp_device": device.persistent_id, "next": "/admin/"},
    )  # fmt: skip

    assert response.status_code == 200
    assert PASSWORD.encode() not in response.content
