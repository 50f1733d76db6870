"""Finding 1: the second factor guarded only /admin/. Administrators and site administrators signed
in on the pages, or got a JWT, with the password alone and then read patients and exported research
data. Now every door that leads to patient data asks for the one-time code of such accounts, and
of clinicians and researchers where ``OTP_REQUIRED_ROLES`` names them (production does)."""

import base64
import os
import secrets
import subprocess
import sys

import pytest
from asgiref.sync import async_to_sync

from portal.core.models import Role
from tests.diagnostics.sockets import Socket, session_cookie
from tests.factories import MembershipFactory, PatientFactory, UserFactory, totp_device
from tests.processes import ROOT
from tests.security.auth_helpers import (
    administrator_with_device,
    code_for,
    obtain_tokens,
    sign_in_on_the_page,
    site_admin_with_device,
    with_token,
)

pytestmark = pytest.mark.django_db


def test_a_site_administrators_password_alone_does_not_sign_in_on_the_pages(client, site):
    PatientFactory(site=site)
    site_admin_with_device(site)

    response = sign_in_on_the_page(client, "sadmin")

    assert response.status_code == 200  # the form again, asking for the code
    assert b"one-time code" in response.content
    assert "_auth_user_id" not in client.session
    assert client.get("/patients/")["Location"].startswith("/accounts/login/")


def test_a_site_administrator_signs_in_on_the_pages_with_the_code(client, site):
    PatientFactory(site=site)
    _user, device = site_admin_with_device(site)

    response = sign_in_on_the_page(client, "sadmin", code=code_for(device))

    assert response.status_code == 302
    assert client.get("/patients/").status_code == 200
    assert client.get("/admin/").status_code == 200  # the same verified session opens the admin


def test_the_token_endpoint_refuses_an_administrators_password_without_the_code(client, site):
    PatientFactory(site=site)
    _admin, device = administrator_with_device()

    refused = obtain_tokens(client, "root")
    granted = obtain_tokens(client, "root", code=code_for(device))
    wrong = obtain_tokens(client, "root", code="000000")

    assert refused.status_code == 401 and "access" not in refused.json()
    assert refused.json()["error"]["code"] == "otp_required"
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "otp_invalid"
    assert granted.status_code == 200
    patients = with_token(client, "get", "/api/v1/patients/", granted.json()["access"])
    assert patients.status_code == 200 and len(patients.json()["results"]) == 1


def test_a_password_only_session_reaches_no_patient_data_through_any_door(client, site):
    """A session signed in before the code was asked for (or by any door without it)."""
    PatientFactory(site=site)
    admin, _device = administrator_with_device()
    client.force_login(admin)

    assert client.get("/patients/")["Location"].startswith("/accounts/login/")
    assert client.get("/api/v1/patients/").status_code in (401, 403)
    assert client.get("/api/v1/research/diagnostics/").status_code in (401, 403)
    assert client.get("/admin/portal/patient/")["Location"].startswith("/admin/login/")


def test_a_socket_of_a_password_only_session_is_refused(client, site, transactional_db):
    patient = PatientFactory(site=site)
    admin, _device = administrator_with_device()
    cookie = session_cookie(client, admin)

    async def attempt():
        socket = Socket(f"/ws/patients/{patient.pk}/", cookie)
        accepted, code = await socket.connect()
        if accepted:
            await socket.disconnect()
        return code

    assert async_to_sync(attempt)() == 4403


def test_clinicians_need_the_code_where_otp_required_roles_names_them(client, settings, site):
    clinician = UserFactory(username="ward")
    MembershipFactory(user=clinician, site=site, role=Role.CLINICIAN)
    device = totp_device(clinician)

    assert obtain_tokens(client, "ward").status_code == 200  # the development default

    settings.OTP_REQUIRED_ROLES = [Role.CLINICIAN, Role.RESEARCHER]
    assert obtain_tokens(client, "ward").status_code == 401
    assert sign_in_on_the_page(client, "ward").status_code == 200
    assert "_auth_user_id" not in client.session
    assert obtain_tokens(client, "ward", code=code_for(device)).status_code == 200


def test_production_asks_every_role_for_the_code_by_default(tmp_path):
    """``OTP_REQUIRED_ROLES`` is what production turns on: read the settings as it starts them."""
    env = {k: v for k, v in os.environ.items() if k not in ("OTP_REQUIRED_ROLES", "DJANGO_ENV")}
    env.update({
        "DJANGO_ENV": "production", "SECRET_KEY": secrets.token_urlsafe(50),
        "DATABASE_URL": "postgres://portal@127.0.0.1:5432/portal",
        "REDIS_URL": "redis://127.0.0.1:6379/0", "ALLOWED_HOSTS": "portal.example",
        "VAR_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "portal.settings",
        # Production on local storage needs its files' key ring (encryption at rest).
        "STORAGE_ENCRYPTION_KEYS": "k1:" + base64.b64encode(secrets.token_bytes(32)).decode(),
    })  # fmt: skip
    probe = "from django.conf import settings; print(','.join(sorted(settings.OTP_REQUIRED_ROLES)))"
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "clinician,researcher"
