"""Too many requests get 429 with Retry-After, in the API's error shape: per signed-in user, per
anonymous address, and for research exports on their own, tighter rate."""

import pytest

from tests.api.conftest import clear_throttle_history, jwt_client, set_throttle_rates

pytestmark = pytest.mark.django_db


@pytest.fixture
def tight_rates(settings):
    clear_throttle_history()
    set_throttle_rates(settings, {"user": "3/min", "anon": "2/min", "research_export": "1/hour"})
    yield
    clear_throttle_history()


def assert_throttled(response) -> None:
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 3601
    error = response.json()["error"]
    assert error["code"] == "throttled" and "throttled" in error["message"].lower()


def test_a_user_over_the_rate_gets_429_with_retry_after(tight_rates, clinician, other_clinician):
    api = jwt_client(clinician)

    allowed = [api.get("/api/v1/models/").status_code for _ in range(3)]
    refused = api.get("/api/v1/models/")
    someone_else = jwt_client(other_clinician).get("/api/v1/models/")

    assert allowed == [200, 200, 200]
    assert_throttled(refused)
    assert someone_else.status_code == 200  # the rate is per user


def test_anonymous_callers_are_counted_by_address(tight_rates, client):
    # The token endpoint has no anonymous rate (failed sign-ins are limited by portal.core.lockout);
    # the refresh endpoint has.
    refresh = {"refresh": "not-a-refresh-token"}

    first = [client.post("/api/v1/auth/token/refresh/", refresh).status_code for _ in range(2)]
    refused = client.post("/api/v1/auth/token/refresh/", refresh)
    spoofed = client.post(
        "/api/v1/auth/token/refresh/", refresh, headers={"X-Forwarded-For": "203.0.113.9"}
    )

    assert first == [401, 401]
    assert_throttled(refused)
    assert_throttled(spoofed)  # a forwarded-for header the server does not trust changes nothing


def test_research_exports_have_their_own_rate(tight_rates, researcher):
    api = jwt_client(researcher)

    first = api.get("/api/v1/research/diagnostics/")
    b"".join(first.streaming_content)
    second = api.get("/api/v1/research/diagnostics/")

    assert first.status_code == 200
    assert_throttled(second)
    assert 60 < int(second["Retry-After"]) <= 3601
