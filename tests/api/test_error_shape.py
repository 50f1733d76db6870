"""Every API error answers ``{"error": {"code", "message"}}``: DRF's validation, parsing,
authentication and method errors as much as ours."""

import pytest

from tests.factories import PatientFactory
from tests.factories_clinical import succeeded

pytestmark = pytest.mark.django_db


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    error = response.json()["error"]
    assert error["code"] == code and error["message"]
    return error


def test_validation_errors_name_the_fields(clinician_api):
    response = clinician_api.post("/api/v1/patients/", {"birth_date": "yesterday"}, format="json")

    error = assert_error(response, 400, "invalid")
    assert {"birth_date", "external_id"} <= set(error["fields"])


def test_malformed_json_is_400(clinician_api):
    response = clinician_api.generic(
        "POST", "/api/v1/patients/", "{not json", content_type="application/json"
    )

    assert_error(response, 400, "malformed_request")


def test_a_bad_or_expired_token_is_401(client):
    response = client.get("/api/v1/diagnostics/", headers={"Authorization": "Bearer not.a.jwt"})

    assert_error(response, 401, "authentication_failed")
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_a_wrong_method_and_an_unsupported_body_are_405_and_415(clinician_api, site):
    diagnostic = succeeded(recording__patient=PatientFactory(site=site))

    wrong_method = clinician_api.delete(f"/api/v1/diagnostics/{diagnostic.pk}/")
    wrong_type = clinician_api.generic(
        "POST", f"/api/v1/diagnostics/{diagnostic.pk}/review/", "decision=confirm",
        content_type="text/plain",
    )  # fmt: skip

    assert_error(wrong_method, 405, "method_not_allowed")
    assert_error(wrong_type, 415, "unsupported_media_type")


def test_an_unknown_api_route_is_404_in_the_shape(clinician_api):
    assert_error(clinician_api.get("/api/v1/no-such-thing/"), 404, "not_found")


def test_an_invalid_cursor_is_400_in_the_shape(clinician_api):
    response = clinician_api.get("/api/v1/diagnostics/", {"cursor": "garbage"})
    assert_error(response, 400, "invalid_cursor")
