"""Three promises of the security model, checked across surfaces:

- every refused request (403) leaves exactly one audit event, with the request id;
- no log line, audit event or error page carries a patient's name, birth date or external id,
  through a whole working session of pages and API calls;
- every response, page or JSON, error or success, carries the security headers production sends.
"""

import datetime
import json
import logging

import pytest
from django.test import Client

from portal.core.models import AuditEvent, Patient, Role
from portal.core.rest.authentication import StampedAccessToken
from tests.factories import MembershipFactory, PatientFactory, UserFactory
from tests.factories_clinical import succeeded
from tests.processes import printed_json, production_env

pytestmark = pytest.mark.django_db


# --- Permission denials -------------------------------------------------------------------------


def denials() -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action="access.denied").order_by("id"))


def test_a_page_refused_for_a_missing_role_is_audited_once_with_the_request_id(client, site):
    researcher = UserFactory(username="res")
    MembershipFactory(user=researcher, site=site, role=Role.RESEARCHER)
    client.force_login(researcher)

    response = client.get("/patients/", HTTP_X_REQUEST_ID="req-denied-1")

    assert response.status_code == 403
    [event] = denials()
    assert event.actor == researcher and event.request_id == "req-denied-1"
    assert event.detail == {"route": "pages:patient-list", "arguments": {}, "method": "GET"}


def test_an_api_call_refused_for_a_missing_role_is_audited(site):
    researcher = UserFactory(username="res")
    MembershipFactory(user=researcher, site=site, role=Role.RESEARCHER)
    patient = PatientFactory(site=site)
    client = Client(HTTP_AUTHORIZATION=f"Bearer {StampedAccessToken.for_user(researcher)}")

    response = client.get(f"/api/v1/patients/{patient.pk}/")

    assert response.status_code == 403
    [event] = denials()
    assert event.actor == researcher and event.detail["route"] == "patient-detail"
    assert event.detail["arguments"] == {"pk": str(patient.pk)}


def test_a_failed_csrf_check_is_audited_and_allowed_requests_are_not(site, clinician):
    client = Client(enforce_csrf_checks=True)
    client.force_login(clinician)

    assert client.get("/patients/").status_code == 200
    assert client.post("/patients/new/", {}).status_code == 403

    [event] = denials()
    assert event.detail["method"] == "POST" and event.actor == clinician


# --- No personal data in logs, audit events or error pages -----------------------------------


class Capture(logging.Handler):
    def __init__(self):
        super().__init__(level=logging.DEBUG)
        self.lines = []

    def emit(self, record):
        self.lines.append(f"{record.getMessage()} {record.__dict__!r}")


@pytest.fixture
def captured_logs():
    """Every record any logger passes to its handlers, extras included, as the project sets
    levels (the root and every logger that does not propagate)."""
    capture = Capture()
    loggers = [logging.getLogger()] + [
        logger for logger in logging.root.manager.loggerDict.values()
        if isinstance(logger, logging.Logger) and not logger.propagate
    ]  # fmt: skip
    for logger in loggers:
        logger.addHandler(capture)
    yield capture.lines
    for logger in loggers:
        logger.removeHandler(capture)


PERSONAL = {
    "given_name": "Ximena",
    "family_name": "Quillfeather",
    "external_id": "MRN-ZZ-48151",
    "birth_date": "1957-03-14",
}


def personal_values() -> list[str]:
    born = datetime.date.fromisoformat(PERSONAL["birth_date"])
    return [PERSONAL["given_name"], PERSONAL["family_name"], PERSONAL["external_id"],
            PERSONAL["birth_date"], born.strftime("%d/%m/%Y"), born.strftime("%m/%d/%Y"),
            "14 March 1957", "March 14, 1957"]  # fmt: skip


def test_a_working_session_leaves_no_personal_data_in_logs_audit_or_error_pages(
    client, site, other_site, clinician, captured_logs, settings
):
    settings.DEBUG_PROPAGATE_EXCEPTIONS = False
    client.force_login(clinician)
    api = Client(HTTP_AUTHORIZATION=f"Bearer {StampedAccessToken.for_user(clinician)}")
    stranger = UserFactory(username="south-clin")
    MembershipFactory(user=stranger, site=other_site, role=Role.CLINICIAN)
    researcher = UserFactory(username="res")
    MembershipFactory(user=researcher, site=site, role=Role.RESEARCHER)
    error_pages = []

    # Create, find, open, edit the patient in the pages; the same through the API.
    created = client.post("/patients/new/", {**PERSONAL, "sex": "female", "site": site.pk})
    assert created.status_code == 302
    patient = Patient.objects.get(external_id=PERSONAL["external_id"])
    assert client.post("/patients/", {"q": PERSONAL["family_name"]}).status_code == 302
    result = succeeded(recording__patient=patient, label="anomaly")
    for url in (f"/patients/{patient.pk}/", f"/patients/{patient.pk}/edit/",
                f"/diagnostics/{result.pk}/", "/review/", "/"):  # fmt: skip
        assert client.get(url).status_code == 200, url
    edited = {**PERSONAL, "sex": "female", "given_name": "Ximena", "research_consent": "on"}
    assert client.post(f"/patients/{patient.pk}/edit/", edited).status_code == 302
    client.post(f"/diagnostics/{result.pk}/review/", {"decision": "confirm", "note": "ok"})
    assert api.get(f"/api/v1/patients/{patient.pk}/").status_code == 200
    assert api.get(f"/api/v1/diagnostics/{result.pk}/").status_code == 200
    taken = api.post("/api/v1/patients/", {**PERSONAL, "sex": "female"},
                     content_type="application/json")  # fmt: skip
    assert taken.status_code == 409
    error_pages.append(taken)

    # Someone else's view of it: another site's clinician (404s), a researcher (403s).
    other = Client()
    other.force_login(stranger)
    for url in (f"/patients/{patient.pk}/", f"/diagnostics/{result.pk}/",
                f"/api/v1/patients/{patient.pk}/"):  # fmt: skip
        error_pages.append(other.get(url))
    researcher_client = Client()
    researcher_client.force_login(researcher)
    error_pages.append(researcher_client.get(f"/patients/{patient.pk}/"))
    assert {page.status_code for page in error_pages} == {409, 404, 403}

    texts = {
        "log lines": "\n".join(captured_logs),
        "audit events": json.dumps(
            list(AuditEvent.objects.values()), default=str, ensure_ascii=False
        ),
        "error pages": "\n".join(page.content.decode() for page in error_pages),
    }
    assert captured_logs and AuditEvent.objects.filter(patient=patient).count() >= 8
    for where, text in texts.items():
        for value in personal_values():
            assert value not in text, f"{value!r} found in {where}"


# --- Security headers on every response ---------------------------------------------------------


@pytest.fixture
def production_security(settings, tmp_path):
    """The security settings as production computes them (read from a process started with
    DJANGO_ENV=production), applied to this test's settings."""
    names = ["SECURE_HSTS_SECONDS", "SECURE_HSTS_INCLUDE_SUBDOMAINS", "SECURE_HSTS_PRELOAD",
             "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "SESSION_COOKIE_HTTPONLY",
             "SECURE_CONTENT_TYPE_NOSNIFF", "SECURE_REFERRER_POLICY",
             "SECURE_CROSS_ORIGIN_OPENER_POLICY", "X_FRAME_OPTIONS", "SESSION_COOKIE_SAMESITE"]  # fmt: skip
    env = production_env(tmp_path)
    script = (
        "import json, django; from django.conf import settings; django.setup(); "
        f"print(json.dumps({{n: getattr(settings, n) for n in {names!r}}}))"
    )
    values = printed_json(script, env=env)
    assert values["SECURE_HSTS_SECONDS"] >= 31536000 and values["SESSION_COOKIE_SECURE"]
    for name, value in values.items():
        setattr(settings, name, value)
    return values


EVERY_RESPONSE = {
    "Strict-Transport-Security": "max-age=31536000; includeSubDomains; preload",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}
PAGES_ONLY = ["Content-Security-Policy", "Permissions-Policy"]


def test_every_response_carries_the_security_headers(production_security, site, clinician):
    patient = PatientFactory(site=site)
    result = succeeded(recording__patient=patient)
    pages = Client()
    pages.force_login(clinician)
    api = Client(HTTP_AUTHORIZATION=f"Bearer {StampedAccessToken.for_user(clinician)}")
    anonymous = Client()
    responses = {
        "home": pages.get("/", secure=True),
        "patient page": pages.get(f"/patients/{patient.pk}/", secure=True),
        "result page": pages.get(f"/diagnostics/{result.pk}/", secure=True),
        "page 404": pages.get("/patients/999999/", secure=True),
        "form post": pages.post("/patients/new/", {}, secure=True),
        "sign-in page": anonymous.get("/accounts/login/", secure=True),
        "sign-in redirect": anonymous.get("/patients/", secure=True),
        "API detail": api.get(f"/api/v1/patients/{patient.pk}/", secure=True),
        "API 404": api.get("/api/v1/patients/999999/", secure=True),
        "API 401": anonymous.get("/api/v1/patients/", secure=True),
        "API 400": api.post("/api/v1/patients/", {}, content_type="application/json", secure=True),
        "health": anonymous.get("/healthz", secure=True),
        "admin sign-in": anonymous.get("/admin/login/", secure=True),
    }
    for name, response in responses.items():
        for header, value in EVERY_RESPONSE.items():
            assert response.get(header) == value, (name, header, response.get(header))
        assert response.get("X-Request-ID"), name
        if response["Content-Type"].startswith("text/html") and name != "admin sign-in":
            for header in PAGES_ONLY:
                assert response.get(header), (name, header)
    assert "default-src 'self'" in responses["home"]["Content-Security-Policy"]
    session_cookie = pages.cookies["sessionid"]
    assert session_cookie["secure"] and session_cookie["httponly"]
    assert responses["sign-in page"].cookies["csrftoken"]["secure"]
