"""Every export writes one audit event with its filters, format, data set and row count, when
the stream ends (see ``portal.research.export``)."""

import pytest
from django.core.signals import request_finished
from django.db import close_old_connections
from rest_framework.test import APIRequestFactory, force_authenticate

from portal.core.models import AuditEvent
from portal.research import sources, writers
from portal.research.views import ResearchDiagnosticExportView
from tests.api.research_data import EXPORT_URL, export, seed_cohort

pytestmark = pytest.mark.django_db


def exports() -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action="research.exported").order_by("id"))


@pytest.mark.parametrize("fmt", ["csv", "ndjson", "parquet"])
def test_one_event_with_filters_format_and_row_count(researcher, researcher_api, site, fmt):
    seed_cohort(site)

    response, _ = export(
        researcher_api, fmt, label="anomaly", reviewed="true", site=site.code,
        recorded_after="2024-01-01", recorded_before="2024-12-31",
    )  # fmt: skip

    [event] = exports()
    assert event.actor == researcher and event.request_id == response["X-Request-ID"]
    assert event.detail == {
        "format": fmt, "dataset": "safe_harbor", "rows": 2, "completed": True,
        "filters": {"label": "anomaly", "reviewed": True, "site": site.code,
                    "recorded": ["2024-01-01", "2024-12-31"]},
    }  # fmt: skip


def test_the_event_is_written_when_the_stream_ends_not_before(researcher_api, site):
    seed_cohort(site)

    response = researcher_api.get(EXPORT_URL, {"format": "ndjson"})
    assert exports() == []  # the response exists, no row has been read yet
    b"".join(response.streaming_content)

    assert [e.detail["rows"] for e in exports()] == [2]


def started_export(user, **params):
    """The export's response as the server holds it, before the client reads a byte.

    Built without Django's test client, whose own wrapper around streams closes the database
    connection the test runs in when a stream is closed early.
    """
    request = APIRequestFactory().get(EXPORT_URL, params)
    force_authenticate(request, user=user)
    return ResearchDiagnosticExportView.as_view()(request)


def abandon(response) -> None:
    """What the server does when the client goes away: close the response."""
    request_finished.disconnect(close_old_connections)
    try:
        response.close()
    finally:
        request_finished.connect(close_old_connections)


def test_a_download_abandoned_before_any_byte_is_recorded_as_incomplete(researcher, site):
    seed_cohort(site)

    abandon(started_export(researcher, format="csv"))

    [event] = exports()
    assert event.detail["completed"] is False and event.detail["rows"] == 0


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_a_download_abandoned_midway_is_recorded_as_incomplete(researcher, site, monkeypatch, fmt):
    seed_cohort(site)
    monkeypatch.setattr(sources, "CHUNK_BYTES", 64)
    monkeypatch.setattr(writers, "CHUNK_BYTES", 64)
    monkeypatch.setattr(writers, "PARQUET_ROW_GROUP", 1)

    response = started_export(researcher, format=fmt)
    first = next(iter(response))
    abandon(response)

    [event] = exports()
    assert first
    assert event.detail["completed"] is False and event.detail["rows"] <= 2


def test_a_refused_export_writes_no_export_event(clinician_api, researcher_api, site):
    seed_cohort(site)

    clinician_api.get(EXPORT_URL)
    researcher_api.get(EXPORT_URL, {"dataset": "limited"})
    researcher_api.get(EXPORT_URL, {"format": "xlsx"})

    assert exports() == []
