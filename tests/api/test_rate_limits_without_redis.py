"""While Redis cannot be reached, the API's rate limits are counted in the process: requests keep
being answered (issue 18.1: every API call was a 500), the limit still holds per process, and the
fallback is counted in a metric and logged once."""

import logging

import pytest
from prometheus_client import REGISTRY

from tests.api.conftest import jwt_client, set_throttle_rates
from tests.processes import free_port

pytestmark = pytest.mark.django_db

FALLBACKS = "portal_rate_limit_fallback_total"


def test_without_redis_requests_are_answered_and_limited_in_the_process(
    settings, clinician, caplog
):
    away = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    settings.REDIS_URL = away
    settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": away}}
    set_throttle_rates(settings, {"user": "3/min", "anon": None})
    fallbacks_before = REGISTRY.get_sample_value(FALLBACKS) or 0
    api = jwt_client(clinician)

    with caplog.at_level(logging.WARNING, logger="portal.core.rate_limits"):
        answers = [api.get("/api/v1/models/") for _ in range(4)]

    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert answers[3].json()["error"]["code"] == "throttled" and int(answers[3]["Retry-After"]) >= 1
    assert REGISTRY.get_sample_value(FALLBACKS) - fallbacks_before == 4
    assert [r.getMessage() for r in caplog.records] == [
        "rate limits counted in this process: Redis unreachable"
    ]
