"""A rate limit holds under parallel clients: of many requests made at once by one user, exactly
the limit passes (issue 17.8: DRF's read-modify-write of the cache let 1,260 of 1,260 through a
1,200/min limit). The threads go through the real throttle and the real Redis."""

import sys
from concurrent.futures import ThreadPoolExecutor

import pytest
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from portal.core.rest.throttling import UserThrottle
from tests.api.conftest import clear_throttle_history, set_throttle_rates

pytestmark = pytest.mark.django_db

LIMIT = 100
CLIENTS = 16
REQUESTS_EACH = 25


def request_as(user) -> Request:
    request = Request(APIRequestFactory().get("/api/v1/models/"))
    request.user = user
    return request


def test_of_parallel_requests_by_one_user_exactly_the_limit_passes(settings, clinician):
    clear_throttle_history()
    set_throttle_rates(settings, {"user": f"{LIMIT}/min", "anon": None})

    def client(_):
        return sum(
            UserThrottle().allow_request(request_as(clinician), None) for _ in range(REQUESTS_EACH)
        )

    with ThreadPoolExecutor(CLIENTS) as pool:
        passed = sum(pool.map(client, range(CLIENTS)))
    clear_throttle_history()

    print(
        f"rate limit {LIMIT}/min: {passed} of {CLIENTS * REQUESTS_EACH} passed", file=sys.__stderr__
    )
    assert passed == LIMIT
