"""``GET /api/v1/diagnostics/{id}/``, the polling fallback for live results: cheap 304s by ETag."""

import pytest

from diagnostics.models import DiagnosticStatus
from tests.factories import PatientFactory
from tests.factories_clinical import DiagnosticFactory

pytestmark = pytest.mark.django_db


def url(diagnostic) -> str:
    return f"/api/v1/diagnostics/{diagnostic.pk}/"


def test_the_status_carries_an_etag_and_an_unchanged_one_answers_304(client, clinician, site):
    diagnostic = DiagnosticFactory(recording__patient=PatientFactory(site=site))
    client.force_login(clinician)

    first = client.get(url(diagnostic))
    again = client.get(url(diagnostic), headers={"if-none-match": first["ETag"]})

    assert first.status_code == 200
    assert first.json()["id"] == diagnostic.pk and first.json()["status"] == "queued"
    assert first["ETag"].startswith('"') and first["Cache-Control"] == "private, no-store"
    assert again.status_code == 304 and again.content == b""
    assert again["ETag"] == first["ETag"]


def test_after_a_change_the_old_etag_gets_the_new_state_and_a_new_etag(client, clinician, site):
    diagnostic = DiagnosticFactory(recording__patient=PatientFactory(site=site))
    client.force_login(clinician)
    before = client.get(url(diagnostic))

    diagnostic.status = DiagnosticStatus.RUNNING
    diagnostic.attempts = 1
    diagnostic.save()
    after = client.get(url(diagnostic), headers={"if-none-match": before["ETag"]})

    assert after.status_code == 200
    assert after.json()["status"] == "running"
    assert after["ETag"] != before["ETag"]


def test_moving_up_the_queue_is_a_change_too(client, clinician, site):
    patient = PatientFactory(site=site)
    ahead = DiagnosticFactory(recording__patient=patient)
    diagnostic = DiagnosticFactory(recording__patient=patient)
    client.force_login(clinician)
    before = client.get(url(diagnostic))

    ahead.status = DiagnosticStatus.RUNNING
    ahead.save()
    after = client.get(url(diagnostic), headers={"if-none-match": before["ETag"]})

    assert before.json()["queue_position"] == 2
    assert after.status_code == 200 and after.json()["queue_position"] == 1


def test_another_sites_diagnostic_is_not_found_even_with_its_etag(
    client, clinician, other_clinician, other_site
):
    elsewhere = DiagnosticFactory(recording__patient=PatientFactory(site=other_site))
    client.force_login(other_clinician)
    etag = client.get(url(elsewhere))["ETag"]
    client.force_login(clinician)

    plain = client.get(url(elsewhere))
    conditional = client.get(url(elsewhere), headers={"if-none-match": etag})

    for response in (plain, conditional):
        assert response.status_code == 404
        assert response.json() == {
            "error": {"code": "not_found", "message": "Diagnostic not found."}
        }
        assert "ETag" not in response
