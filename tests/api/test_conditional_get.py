"""Detail endpoints answer 304 to a client whose copy is current: by ETag (If-None-Match) and by
Last-Modified (If-Modified-Since); only a full answer is audited as a read."""

import datetime

import pytest
from django.utils import timezone
from django.utils.http import http_date

from diagnostics.models import Diagnostic
from portal.core.models import AuditEvent, Patient
from tests.factories import PatientFactory
from tests.factories_clinical import DiagnosticFactory, succeeded

pytestmark = pytest.mark.django_db

AN_HOUR_AGO = timezone.now() - datetime.timedelta(hours=1)


@pytest.fixture
def finished(site):
    diagnostic = succeeded(recording__patient=PatientFactory(site=site))
    Diagnostic.objects.filter(pk=diagnostic.pk).update(
        queued_at=AN_HOUR_AGO, started_at=AN_HOUR_AGO, finished_at=AN_HOUR_AGO
    )
    return diagnostic


@pytest.fixture
def patient_changed_an_hour_ago(patient):
    Patient.objects.filter(pk=patient.pk).update(updated_at=AN_HOUR_AGO)
    return patient


def views(action: str) -> int:
    return AuditEvent.objects.filter(action=action).count()


@pytest.mark.parametrize("kind", ["diagnostic", "patient"])
def test_etag_and_last_modified_each_give_304_and_304s_are_not_audited(
    clinician_api, finished, patient_changed_an_hour_ago, kind
):
    url = {"diagnostic": f"/api/v1/diagnostics/{finished.pk}/",
           "patient": f"/api/v1/patients/{patient_changed_an_hour_ago.pk}/"}[kind]  # fmt: skip

    first = clinician_api.get(url)
    by_etag = clinician_api.get(url, headers={"If-None-Match": first["ETag"]})
    by_date = clinician_api.get(url, headers={"If-Modified-Since": first["Last-Modified"]})
    later = clinician_api.get(url, headers={"If-Modified-Since": http_date()})

    assert first.status_code == 200
    assert first["Last-Modified"] == http_date(int(AN_HOUR_AGO.timestamp()))
    for response in (by_etag, by_date, later):
        assert response.status_code == 304 and response.content == b""
        assert response["ETag"] == first["ETag"]
    assert views(f"{kind}.viewed") == 1


def test_an_older_date_gets_the_new_state_after_a_review(clinician_api, finished):
    url = f"/api/v1/diagnostics/{finished.pk}/"
    first = clinician_api.get(url)

    clinician_api.post(f"{url}review/", {"decision": "correct", "label": "healthy"}, format="json")
    Diagnostic.objects.filter(pk=finished.pk).update(
        reviewed_at=AN_HOUR_AGO + datetime.timedelta(minutes=5)
    )
    after = clinician_api.get(url, headers={"If-Modified-Since": first["Last-Modified"]})

    assert after.status_code == 200 and after.json()["review_label"] == "healthy"
    assert after["Last-Modified"] != first["Last-Modified"]


def test_if_none_match_takes_precedence_over_if_modified_since(clinician_api, finished):
    url = f"/api/v1/diagnostics/{finished.pk}/"
    current = clinician_api.get(url)

    response = clinician_api.get(
        url, headers={"If-None-Match": '"stale"', "If-Modified-Since": current["Last-Modified"]}
    )

    assert response.status_code == 200


def test_a_queued_diagnostic_has_no_last_modified_its_queue_position_moves(clinician_api, site):
    queued = DiagnosticFactory(recording__patient=PatientFactory(site=site))
    url = f"/api/v1/diagnostics/{queued.pk}/"

    response = clinician_api.get(url)
    dated = clinician_api.get(url, headers={"If-Modified-Since": http_date()})

    assert "Last-Modified" not in response and response["ETag"]
    assert dated.status_code == 200


def test_a_change_in_the_current_second_is_not_dated_until_that_second_is_over(
    clinician_api, site, monkeypatch
):
    patient = PatientFactory(site=site)
    url = f"/api/v1/patients/{patient.pk}/"

    monkeypatch.setattr("portal.core.rest.conditional.timezone.now", lambda: patient.updated_at)
    same_second = clinician_api.get(url)
    next_second = patient.updated_at + datetime.timedelta(seconds=1)
    monkeypatch.setattr("portal.core.rest.conditional.timezone.now", lambda: next_second)
    settled = clinician_api.get(url)

    assert same_second.status_code == 200 and "Last-Modified" not in same_second
    assert settled["Last-Modified"] == http_date(int(patient.updated_at.timestamp()))
