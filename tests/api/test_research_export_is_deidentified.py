"""A Safe Harbor export holds no identifier, in any format, and no date finer than a year."""

import io
import json
import re

import pyarrow.parquet as pq
import pytest

from media_assets.models import RecordingPseudonym
from portal.core.models import Patient, ResearchPseudonym
from portal.research.rows import safe_harbor_columns
from tests.api.research_data import export, rows_of, seed_cohort

pytestmark = pytest.mark.django_db

FORMATS = ["csv", "ndjson", "parquet"]
FULL_DATE = re.compile(
    rb"\d{4}-\d{1,2}-\d{1,2}|\d{1,2}/\d{1,2}/\d{2,4}|\d{1,2}\.\d{1,2}\.\d{4}|\d{2}:\d{2}"
)


def searchable(fmt: str, body: bytes) -> bytes:
    """The export's bytes, plus, for Parquet (compressed), every value and its metadata as text."""
    if fmt != "parquet":
        return body
    parquet = pq.ParquetFile(io.BytesIO(body))
    decoded = json.dumps(parquet.read().to_pylist(), default=str)
    metadata = repr(parquet.metadata.metadata) + repr(parquet.schema_arrow)
    return body + decoded.encode() + metadata.encode()


@pytest.mark.parametrize("fmt", FORMATS)
def test_no_name_external_id_birth_date_note_user_or_storage_key_appears(researcher_api, site, fmt):
    cohort = seed_cohort(site)

    response, body = export(researcher_api, fmt)

    assert response.status_code == 200
    text = searchable(fmt, body)
    leaked = [value for value in cohort.identifiers if value.encode() in text]
    assert leaked == []
    assert len(rows_of(fmt, body)) == len(cohort.consenting)


@pytest.mark.parametrize("fmt", FORMATS)
def test_no_full_date_or_time_of_day_appears_only_the_year(researcher_api, site, fmt):
    seed_cohort(site)

    _, body = export(researcher_api, fmt)
    rows = rows_of(fmt, body)

    assert FULL_DATE.findall(searchable(fmt, body)) == []
    assert {str(row["year"]) for row in rows} == {"2024"}
    if fmt == "parquet":
        schema = pq.read_schema(io.BytesIO(body))
        assert not any("date" in str(field.type) or "time" in str(field.type) for field in schema)


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_row_holds_exactly_the_safe_harbor_columns(researcher_api, site, fmt):
    seed_cohort(site)

    rows = rows_of(fmt, export(researcher_api, fmt)[1])

    assert list(rows[0]) == [c.name for c in safe_harbor_columns()]
    assert {"recorded_on", "reviewed_on", "audio_url"}.isdisjoint(rows[0])


def test_ages_are_five_year_bands_and_ninety_or_more_is_pooled(researcher_api, site):
    cohort = seed_cohort(site)  # born 1987-11-23 and 1931-02-13, recorded 2024-03-14

    rows = rows_of("ndjson", export(researcher_api, "ndjson")[1])

    by_patient = {
        ResearchPseudonym.objects.get(value=row["patient_id"]).patient_id: row for row in rows
    }
    assert by_patient[cohort.consenting[0].pk]["age_band"] == "35-39"  # 36 years old
    assert by_patient[cohort.consenting[1].pk]["age_band"] == "90+"  # 93 years old


def test_ids_are_pseudonyms_not_database_ids(researcher_api, site):
    cohort = seed_cohort(site)

    rows = rows_of("ndjson", export(researcher_api, "ndjson")[1])

    patient_values = set(ResearchPseudonym.objects.values_list("value", flat=True))
    recording_values = set(RecordingPseudonym.objects.values_list("value", flat=True))
    assert {row["patient_id"] for row in rows} == patient_values
    assert {row["recording_id"] for row in rows} == recording_values
    database_ids = {str(p.pk) for p in Patient.objects.all()} | {
        str(d.recording_id) for d in cohort.diagnostics
    }
    assert database_ids.isdisjoint(patient_values | recording_values)
