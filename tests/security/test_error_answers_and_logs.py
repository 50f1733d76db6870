"""Finding 9: a crafted cursor is a 400 in the error shape, not a 500; error messages are plain
sentences, never Python reprs; and no log line holds a path or a query string, a 500's included."""

import pytest
from rest_framework.test import APIClient

from tests.api.conftest import jwt_client
from tests.security.hardening_helpers import console_log_lines

pytestmark = pytest.mark.django_db

REPR_MARKS = ("ErrorDetail", "{'", "[", "string=")


@pytest.mark.parametrize("cursor", ["cD1hYmM=", "not base64 at all", "bz14JnA9MQ=="])
def test_a_crafted_cursor_answers_400_in_the_error_shape(clinician, cursor):
    response = jwt_client(clinician).get("/api/v1/diagnostics/", {"cursor": cursor})

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_cursor"
    assert error["message"].endswith(".") and not any(m in error["message"] for m in REPR_MARKS)


def test_a_cursor_from_the_list_itself_still_pages(clinician, site):
    from tests.factories import PatientFactory

    for _ in range(3):
        PatientFactory(site=site)
    api = jwt_client(clinician)

    first = api.get("/api/v1/patients/", {"page_size": 2}).json()
    second = api.get(first["next"])

    assert second.status_code == 200 and len(second.json()["results"]) == 1


def test_a_bad_token_is_refused_with_a_plain_sentence():
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION="Bearer not.a.token")

    response = api.get("/api/v1/patients/")

    assert response.status_code == 401
    message = response.json()["error"]["message"]
    assert message.endswith(".") and not any(mark in message for mark in REPR_MARKS), message


@pytest.mark.parametrize(
    "detail",
    [
        {"symptoms": {"cough": ["Must be a valid boolean."]}},
        {"items": [{"label": ["Not a valid choice."]}]},
        [["Nested list message."]],
        {"detail": "Plain detail."},
    ],
)
def test_a_nested_error_detail_is_a_plain_sentence(detail):
    from rest_framework.exceptions import ValidationError

    from portal.core.rest.errors import exception_handler

    response = exception_handler(ValidationError(detail), {})

    message = response.data["error"]["message"]
    assert message.endswith(".") and not any(mark in message for mark in REPR_MARKS), message
    for messages in response.data["error"].get("fields", {}).values():
        assert all(not any(mark in m for mark in REPR_MARKS) for m in messages), messages


@pytest.mark.urls("tests.portal.failing_urls")
def test_the_log_lines_of_a_server_error_hold_no_path_or_query_string(client):
    client.raise_request_exception = False

    with console_log_lines() as lines:
        response = client.get("/boom/", {"family_name": "Patientson"})

    assert response.status_code == 500
    error_lines = [line for line in lines if line["logger"] == "django.request"]
    assert error_lines, lines
    for line in lines:
        text = str(line)
        assert "/boom/" not in text and "Patientson" not in text and "family_name" not in text
    assert error_lines[0]["route"] == "boom/" and error_lines[0]["status_code"] == 500
