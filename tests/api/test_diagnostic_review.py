"""``POST /api/v1/diagnostics/{id}/review/``: confirm, correct or mark inconclusive; audited."""

import pytest

from diagnostics.models import Diagnostic
from portal.core.models import AuditEvent
from tests.factories import PatientFactory
from tests.factories_clinical import DiagnosticFactory, succeeded

pytestmark = pytest.mark.django_db


def review(api, diagnostic, **data):
    return api.post(f"/api/v1/diagnostics/{diagnostic.pk}/review/", data, format="json")


@pytest.mark.parametrize(
    ("data", "expected"),
    [({"decision": "confirm"}, "anomaly"),
     ({"decision": "correct", "label": "healthy"}, "healthy"),
     ({"decision": "inconclusive"}, "inconclusive")],
)  # fmt: skip
def test_a_review_is_recorded_returned_and_audited(clinician, clinician_api, site, data, expected):
    diagnostic = succeeded(recording__patient=PatientFactory(site=site), label="anomaly")

    response = review(clinician_api, diagnostic, note="Wheeze audible.", **data)

    assert response.status_code == 200
    assert response.json()["review_label"] == expected and response.json()["reviewed_at"]
    stored = Diagnostic.objects.get(pk=diagnostic.pk)
    assert stored.review_label == expected and stored.reviewed_by == clinician
    assert stored.review_note == "Wheeze audible."
    event = AuditEvent.objects.get(action="diagnostic.reviewed")
    assert event.patient_id == diagnostic.patient_id
    assert "Wheeze" not in str(event.detail)


def test_a_diagnostic_without_a_result_cannot_be_reviewed(clinician_api, site):
    queued = DiagnosticFactory(recording__patient=PatientFactory(site=site))

    response = review(clinician_api, queued, decision="confirm")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "review_refused"
    assert Diagnostic.objects.get(pk=queued.pk).review_label == ""


@pytest.mark.parametrize(
    "data", [{"decision": "correct"}, {"decision": "approve"}, {"decision": "correct",
                                                               "label": "sick"}, {}]
)  # fmt: skip
def test_an_incomplete_review_is_400_and_changes_nothing(clinician_api, site, data):
    diagnostic = succeeded(recording__patient=PatientFactory(site=site))

    response = review(clinician_api, diagnostic, **data)

    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid"
    assert Diagnostic.objects.get(pk=diagnostic.pk).review_label == ""
