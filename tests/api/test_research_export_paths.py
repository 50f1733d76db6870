"""The export reads the same rows whichever way they leave the database, in bounded chunks.

On PostgreSQL CSV is the server's own COPY output and NDJSON/Parquet are parsed from it; with
``RESEARCH_EXPORT_COPY`` off (and on SQLite) rows come through a cursor. Both give the same values.
"""

import math

import pytest
from django.db import connection

from portal.research import sources, writers
from tests.api.research_data import export, rows_of, seed_cohort
from tests.factories_clinical import RecordingFactory, succeeded

pytestmark = pytest.mark.django_db


def normalised(rows: list[dict]) -> list[dict]:
    """Values as comparable text: CSV from COPY writes 3 for 3.0, Python writes 3.0."""

    def text(value):
        if value is None or value == "":
            return None
        if isinstance(value, bool):
            return str(value).lower()
        try:
            number = float(value)
        except (TypeError, ValueError):
            return str(value).lower()
        return str(int(number)) if math.isfinite(number) and number == int(number) else str(number)

    texts = [{key: text(value) for key, value in row.items()} for row in rows]
    return sorted(texts, key=lambda row: row["recording_id"])  # exports come in no set order


@pytest.mark.parametrize("fmt", ["csv", "ndjson", "parquet"])
@pytest.mark.parametrize("dataset", ["safe_harbor", "limited"])
def test_copy_and_cursor_paths_give_the_same_rows(agreement_api, site, settings, fmt, dataset):
    seed_cohort(site)

    settings.RESEARCH_EXPORT_COPY = True
    through_copy = rows_of(fmt, export(agreement_api, fmt, dataset=dataset)[1])
    settings.RESEARCH_EXPORT_COPY = False
    through_cursor = rows_of(fmt, export(agreement_api, fmt, dataset=dataset)[1])

    assert len(through_copy) == 2
    assert normalised(through_copy) == normalised(through_cursor)


def test_all_formats_hold_the_same_values(researcher_api, site):
    seed_cohort(site)

    by_format = {fmt: rows_of(fmt, export(researcher_api, fmt)[1]) for fmt in writers.FORMATS}

    assert normalised(by_format["csv"]) == normalised(by_format["ndjson"])
    assert normalised(by_format["ndjson"]) == normalised(by_format["parquet"])


@pytest.mark.parametrize("fmt", ["csv", "ndjson", "parquet"])
def test_a_large_export_is_streamed_in_many_chunks(researcher_api, site, monkeypatch, fmt):
    cohort = seed_cohort(site)
    for _ in range(40):
        succeeded(recording=RecordingFactory(patient=cohort.consenting[0]))
    monkeypatch.setattr(sources, "CHUNK_BYTES", 512)
    monkeypatch.setattr(sources, "ROW_BATCH", 7)
    monkeypatch.setattr(sources, "ARROW_BLOCK_BYTES", 1024)
    monkeypatch.setattr(writers, "CHUNK_BYTES", 512)
    monkeypatch.setattr(writers, "PARQUET_ROW_GROUP", 10)

    response = researcher_api.get("/api/v1/research/diagnostics/", {"format": fmt})
    chunks = list(response.streaming_content)
    rows = rows_of(fmt, b"".join(chunks))

    assert len(chunks) > 3
    assert len(rows) == 42
    assert len({row["recording_id"] for row in rows}) == 42


def test_postgresql_streams_through_copy(settings):
    settings.RESEARCH_EXPORT_COPY = True
    assert sources.use_copy() is (connection.vendor == "postgresql")
