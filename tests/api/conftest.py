"""The cast of the API tests: clinicians and researchers signed in with JWT, and throttling off
unless a test turns it on (its history lives in the shared Redis cache)."""

import datetime

import pytest
import redis
from django.conf import settings as django_settings
from django.utils import timezone
from rest_framework.test import APIClient

from portal.core.models import Role
from portal.core.rest.authentication import StampedAccessToken
from tests.factories import MembershipFactory, UserFactory

NO_THROTTLING = {"user": None, "anon": None, "research_export": None}


def clear_throttle_history() -> None:
    client = redis.Redis.from_url(django_settings.REDIS_URL)
    try:
        keys = list(client.scan_iter(match="*throttle_*"))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


def set_throttle_rates(settings, rates: dict) -> None:
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}


@pytest.fixture(autouse=True)
def api_test_settings(settings):
    set_throttle_rates(settings, NO_THROTTLING)
    # The users these tests make need a password, not a costly one (a second each here).
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def jwt_client(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {StampedAccessToken.for_user(user)}")
    return client


@pytest.fixture
def clinician_api(clinician) -> APIClient:
    return jwt_client(clinician)


@pytest.fixture
def researcher(site):
    user = UserFactory(username="researcher")
    MembershipFactory(user=user, site=site, role=Role.RESEARCHER)
    return user


@pytest.fixture
def researcher_api(researcher) -> APIClient:
    return jwt_client(researcher)


@pytest.fixture
def agreement_researcher(site):
    """A researcher whose membership records a data-use agreement that is current."""
    user = UserFactory(username="dua-researcher")
    MembershipFactory(
        user=user, site=site, role=Role.RESEARCHER,
        data_use_agreement_until=timezone.localdate() + datetime.timedelta(days=30),
    )  # fmt: skip
    return user


@pytest.fixture
def agreement_api(agreement_researcher) -> APIClient:
    return jwt_client(agreement_researcher)
