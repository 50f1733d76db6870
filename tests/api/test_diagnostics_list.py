"""``GET /api/v1/diagnostics/``: filters, cursor pages of up to 1000, a fixed number of queries."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from diagnostics.models import Diagnostic
from media_assets.models import Recording
from portal.core.models import AuditEvent
from tests.factories import PatientFactory
from tests.factories_clinical import DiagnosticFactory, RecordingFactory, succeeded

pytestmark = pytest.mark.django_db


def bulk_diagnostics(patient, n: int) -> None:
    recordings = Recording.objects.bulk_create(
        RecordingFactory.build(patient=patient, sha256=f"{i:064x}", storage_key=f"k/{i}")
        for i in range(n)
    )
    Diagnostic.objects.bulk_create(Diagnostic(recording=r, patient=patient) for r in recordings)


def test_pages_hold_up_to_1000_rows_and_the_cursor_walks_them_all(clinician_api, site):
    bulk_diagnostics(PatientFactory(site=site), 1205)

    first = clinician_api.get("/api/v1/diagnostics/", {"page_size": 5000}).json()
    second = clinician_api.get(first["next"]).json()

    assert len(first["results"]) == 1000 and len(second["results"]) == 205
    assert second["next"] is None
    ids = [row["id"] for row in first["results"] + second["results"]]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == 1205


def test_the_default_page_is_50(clinician_api, site):
    bulk_diagnostics(PatientFactory(site=site), 60)

    assert len(clinician_api.get("/api/v1/diagnostics/").json()["results"]) == 50


def test_each_filter_selects_its_diagnostics(clinician_api, site):
    patient, other = PatientFactory(site=site), PatientFactory(site=site)
    done = succeeded(recording__patient=patient, label="healthy")
    reviewed = succeeded(recording__patient=patient, review_label="anomaly",
                         reviewed_at=timezone.now())  # fmt: skip
    waiting = DiagnosticFactory(recording=RecordingFactory(patient=other, kind="breath"))
    Diagnostic.objects.filter(pk=waiting.pk).update(
        queued_at=timezone.now() - datetime.timedelta(days=400)
    )
    cases = {
        "patient": ({"patient": other.pk}, {waiting}),
        "status": ({"status": "queued"}, {waiting}),
        "label": ({"label": "healthy"}, {done}),
        "review_label": ({"review_label": "anomaly"}, {reviewed}),
        "reviewed": ({"reviewed": "true"}, {reviewed}),
        "not reviewed": ({"reviewed": "false"}, {done, waiting}),
        "kind": ({"kind": "breath"}, {waiting}),
        "model_version": ({"model_version": done.model_version_id}, {done}),
        "queued before": ({"queued_before": str(timezone.localdate()
                                                 - datetime.timedelta(days=300))}, {waiting}),
        "queued after": ({"queued_after": str(timezone.localdate())}, {done, reviewed}),
    }  # fmt: skip
    for name, (params, expected) in cases.items():
        response = clinician_api.get("/api/v1/diagnostics/", params)
        assert {row["id"] for row in response.json()["results"]} == {d.pk for d in expected}, name


def test_a_row_carries_the_result_and_the_review(clinician_api, site):
    diagnostic = succeeded(recording__patient=PatientFactory(site=site), confidence=0.75)

    [row] = clinician_api.get("/api/v1/diagnostics/").json()["results"]

    assert row["id"] == diagnostic.pk and row["patient"] == diagnostic.patient_id
    assert row["status"] == "succeeded" and row["label"] == "anomaly" and row["confidence"] == 0.75
    assert row["model_version"] == str(diagnostic.model_version) and row["synthetic_model"] is True
    assert row["review_label"] is None and row["kind"] == "cough"


def test_the_list_costs_the_same_queries_for_3_rows_as_for_30(clinician_api, site):
    patient = PatientFactory(site=site)
    for _ in range(3):
        succeeded(recording__patient=patient)
    with CaptureQueriesContext(connection) as few:
        clinician_api.get("/api/v1/diagnostics/")
    for _ in range(27):
        succeeded(recording__patient=patient)
    with CaptureQueriesContext(connection) as many:
        response = clinician_api.get("/api/v1/diagnostics/")

    assert len(response.json()["results"]) == 30
    assert len(many) == len(few)


def test_a_listing_is_audited_with_the_diagnostics_and_patients_it_showed(clinician_api, site):
    patient = PatientFactory(site=site)
    diagnostics = [succeeded(recording__patient=patient) for _ in range(2)]

    clinician_api.get("/api/v1/diagnostics/")

    event = AuditEvent.objects.get(action="diagnostic.listed")
    assert sorted(event.detail["diagnostics"]) == sorted(d.pk for d in diagnostics)
    assert event.detail["patients"] == [patient.pk]


def test_the_model_registry_lists_versions_and_filters_by_status(clinician_api):
    from tests.factories_clinical import ModelVersionFactory

    production = ModelVersionFactory(status="production")
    ModelVersionFactory(status="archived")

    everything = clinician_api.get("/api/v1/models/").json()["results"]
    live = clinician_api.get("/api/v1/models/", {"status": "production"}).json()["results"]

    assert len(everything) == 2
    assert [m["id"] for m in live] == [production.pk]
    assert live[0]["labels"] == ["healthy", "anomaly", "inconclusive"]
