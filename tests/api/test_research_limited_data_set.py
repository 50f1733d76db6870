"""The limited data set (dates to the day, audio links) needs a current data-use agreement."""

import datetime

import pytest
from django.utils import timezone

from media_assets.models import RecordingPseudonym
from portal.core.models import Membership, Role
from tests.api.conftest import jwt_client
from tests.api.research_data import export, rows_of, seed_cohort
from tests.factories import MembershipFactory, SiteFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("fmt", ["csv", "ndjson", "parquet"])
def test_without_an_agreement_the_limited_data_set_is_refused(researcher_api, site, fmt):
    seed_cohort(site)

    response, _ = export(researcher_api, fmt, dataset="limited")

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "data_use_agreement_required"
    assert not RecordingPseudonym.objects.exists()  # refused before anything was made


def test_an_expired_agreement_is_no_agreement(researcher, researcher_api, site):
    seed_cohort(site)
    Membership.objects.filter(user=researcher).update(
        data_use_agreement_until=timezone.localdate() - datetime.timedelta(days=1)
    )

    response, _ = export(researcher_api, dataset="limited")

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "data_use_agreement_required"
    assert not RecordingPseudonym.objects.exists()


@pytest.mark.parametrize("fmt", ["csv", "ndjson", "parquet"])
def test_with_an_agreement_rows_carry_dates_to_the_day_and_audio_links(agreement_api, site, fmt):
    seed_cohort(site)

    response, body = export(agreement_api, fmt, dataset="limited")
    rows = rows_of(fmt, body)

    assert response.status_code == 200 and len(rows) == 2
    for row in rows:
        assert str(row["recorded_on"]) == "2024-03-14"
        assert str(row["reviewed_on"]) == "2024-03-15"
        assert row["audio_url"] == f"/api/v1/research/recordings/{row['recording_id']}/audio"


def test_an_agreement_covers_only_its_own_site(agreement_researcher, agreement_api, site):
    elsewhere = SiteFactory(code="east")
    MembershipFactory(user=agreement_researcher, site=elsewhere, role=Role.RESEARCHER)
    seed_cohort(site)

    own, _ = export(agreement_api, dataset="limited", site=site.code)
    other, _ = export(agreement_api, dataset="limited", site="east")
    safe_harbor, _ = export(agreement_api, site="east")

    assert own.status_code == 200
    assert other.status_code == 403
    assert safe_harbor.status_code == 200


def test_a_safe_harbor_export_filters_by_whole_years_only(agreement_api, site):
    seed_cohort(site)

    day, _ = export(agreement_api, recorded_after="2024-03-14", recorded_before="2024-03-14")
    year, year_body = export(
        agreement_api, recorded_after="2024-01-01", recorded_before="2024-12-31"
    )
    limited_day, limited_body = export(
        agreement_api, dataset="limited", recorded_after="2024-03-14", recorded_before="2024-03-14"
    )

    assert day.status_code == 400 and "whole years" in day.json()["error"]["message"]
    assert year.status_code == 200 and len(rows_of("csv", year_body)) == 2
    assert limited_day.status_code == 200 and len(rows_of("csv", limited_body)) == 2


def test_a_superuser_without_an_agreement_gets_no_limited_data_set(site, django_user_model):
    admin = django_user_model.objects.create_superuser("root", password="a-long-test-password")
    seed_cohort(site)

    response, _ = export(jwt_client(admin), dataset="limited")

    assert response.status_code == 403
