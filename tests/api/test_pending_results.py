"""``GET /api/v1/patients/{id}/pending/``: what a live page reconciles with. It names the
patient's queued and running diagnostics and the most recent ones, answers 304 while nothing
changed (so polling it is cheap), and is scoped like every patient read."""

import pytest

from diagnostics.models import Diagnostic, DiagnosticStatus
from tests.factories import PatientFactory
from tests.factories_clinical import DiagnosticFactory, succeeded

pytestmark = pytest.mark.django_db


def url(patient) -> str:
    return f"/api/v1/patients/{patient.pk}/pending/"


def test_it_names_the_pending_and_the_recent_and_answers_304_until_one_changes(clinician_api, site):
    patient = PatientFactory(site=site)
    done = succeeded(recording__patient=patient)
    waiting = DiagnosticFactory(recording__patient=patient)
    PatientFactory(site=site)  # another patient's work is not listed

    first = clinician_api.get(url(patient))
    again = clinician_api.get(url(patient), HTTP_IF_NONE_MATCH=first["ETag"])
    Diagnostic.objects.filter(pk=waiting.pk).update(status=DiagnosticStatus.RUNNING)
    changed = clinician_api.get(url(patient), HTTP_IF_NONE_MATCH=first["ETag"])

    assert first.status_code == 200
    assert first.json() == {
        "patient": patient.pk,
        "pending": [{"id": waiting.pk, "status": "queued"}],
        "recent": [{"id": waiting.pk, "status": "queued"}, {"id": done.pk, "status": "succeeded"}],
    }
    assert again.status_code == 304
    assert changed.status_code == 200
    assert changed.json()["pending"] == [{"id": waiting.pk, "status": "running"}]


def test_another_sites_patient_is_not_found(clinician_api, other_site):
    patient = PatientFactory(site=other_site)

    response = clinician_api.get(url(patient))

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
