"""``POST /api/v1/diagnostics/{id}/retry/``: only a failed analysis goes back to the queue."""

import pytest

from diagnostics.models import DiagnosticStatus
from portal.core.models import AuditEvent
from tests.diagnostics.inference_steps import queued_messages
from tests.factories import PatientFactory
from tests.factories_clinical import DiagnosticFactory, failed, succeeded

# Real commits: the task is enqueued only once the retry's transaction has committed.
pytestmark = pytest.mark.django_db(transaction=True)


def url(diagnostic) -> str:
    return f"/api/v1/diagnostics/{diagnostic.pk}/retry/"


def test_a_failed_diagnostic_is_requeued_with_fresh_attempts(client, clinician, site, empty_broker):
    diagnostic = failed(recording__patient=PatientFactory(site=site))
    client.force_login(clinician)

    response = client.post(url(diagnostic))

    assert response.status_code == 202
    assert response.json()["status"] == "queued" and response.json()["queue_position"] == 1
    diagnostic.refresh_from_db()
    assert diagnostic.status == DiagnosticStatus.QUEUED
    assert (diagnostic.attempts, diagnostic.error, diagnostic.finished_at) == (0, "", None)
    assert [(m["task"], m["argsrepr"]) for m in queued_messages()] == [
        ("diagnostics.tasks.run_diagnostic", f"({diagnostic.pk},)")
    ]
    assert AuditEvent.objects.filter(action="diagnostic.retried", object_id=str(diagnostic.pk))


@pytest.mark.parametrize("status", ["queued", "running", "succeeded"])
def test_anything_but_a_failed_diagnostic_is_a_409_and_stays_as_it_was(
    client, clinician, site, empty_broker, status
):
    patient = PatientFactory(site=site)
    if status == "succeeded":
        diagnostic = succeeded(recording__patient=patient)
    else:
        diagnostic = DiagnosticFactory(recording__patient=patient, status=status, attempts=1)
    client.force_login(clinician)

    response = client.post(url(diagnostic))

    assert response.status_code == 409
    assert response.json() == {
        "error": {"code": "not_retryable", "message": "Only a failed analysis can be retried."}
    }
    diagnostic.refresh_from_db()
    assert diagnostic.status == status and diagnostic.attempts == 1
    assert queued_messages() == []


def test_another_sites_failed_diagnostic_is_not_found(client, clinician, other_site, empty_broker):
    elsewhere = failed(recording__patient=PatientFactory(site=other_site))
    client.force_login(clinician)

    response = client.post(url(elsewhere))

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    elsewhere.refresh_from_db()
    assert elsewhere.status == DiagnosticStatus.FAILED
    assert queued_messages() == []
