"""Age bands are computed by the database the way birthdays are counted, on both databases."""

import datetime

import pytest
from django.utils import timezone

from media_assets.models import RecordingPseudonym
from tests.api.research_data import export, rows_of
from tests.factories import PatientFactory
from tests.factories_clinical import RecordingFactory, succeeded

pytestmark = pytest.mark.django_db

CASES = [
    # (birth date, recorded on, band)
    ("2020-06-15", "2024-06-14", "0-4"),  # 3, the day before the 4th birthday
    ("2019-06-15", "2024-06-15", "5-9"),  # 5 on the day
    ("1989-03-15", "2024-03-14", "30-34"),  # 34, one day short of 35
    ("1989-03-14", "2024-03-14", "35-39"),
    ("2000-02-29", "2025-02-28", "20-24"),  # born on 29 February: 24 until 1 March
    ("2000-02-29", "2030-03-01", "30-34"),
    ("1935-01-01", "2024-12-31", "85-89"),  # 89
    ("1934-12-31", "2024-12-31", "90+"),  # 90
    ("1920-01-01", "2024-01-01", "90+"),  # 104
]


def test_bands_follow_birthdays_and_pool_ninety_and_over(researcher_api, site):
    expected = {}
    for born, recorded, band in CASES:
        patient = PatientFactory(
            site=site, birth_date=born, research_consent=True, research_consent_at=timezone.now()
        )
        at = datetime.datetime.fromisoformat(recorded).replace(hour=12, tzinfo=datetime.UTC)
        diagnostic = succeeded(recording=RecordingFactory(patient=patient, created_at=at))
        expected[diagnostic.recording_id] = band

    rows = rows_of("csv", export(researcher_api, "csv")[1])

    owners = dict(RecordingPseudonym.objects.values_list("value", "recording_id"))
    assert {owners[row["recording_id"]]: row["age_band"] for row in rows} == expected
