"""Every page view of patient data is in the audit log, with the patient named on the event; list
views record which rows were shown, and never the search terms."""

import pytest

from tests.factories import PatientFactory
from tests.factories_clinical import succeeded
from tests.portal.page_helpers import events

pytestmark = pytest.mark.django_db


def test_the_patient_page_records_patient_viewed(signed_in, clinician, site):
    patient = PatientFactory(site=site)

    signed_in.get(f"/patients/{patient.pk}/")

    (event,) = events("patient.viewed")
    assert event.patient_id == patient.pk and event.site_id == site.pk
    assert event.actor_id == clinician.pk and event.request_id


def test_the_diagnostic_page_records_diagnostic_viewed_with_its_patient(signed_in, site):
    diagnostic = succeeded(recording__patient=PatientFactory(site=site))

    signed_in.get(f"/diagnostics/{diagnostic.pk}/")

    (event,) = events("diagnostic.viewed")
    assert event.patient_id == diagnostic.patient_id
    assert event.object_id == str(diagnostic.pk)


def test_the_edit_page_records_a_view_and_saving_records_field_names_only(signed_in, site):
    patient = PatientFactory(site=site, given_name="Ada", family_name="Abara")

    signed_in.get(f"/patients/{patient.pk}/edit/")
    signed_in.post(f"/patients/{patient.pk}/edit/", {
        "external_id": patient.external_id, "given_name": "Adaeze", "family_name": "Abara",
        "birth_date": "1970-01-01", "sex": "unknown",
    })  # fmt: skip

    assert events("patient.viewed")[0].patient_id == patient.pk
    (update,) = events("patient.updated")
    assert update.detail == {"fields": ["given_name"]}
    assert "Adaeze" not in str(update.detail) and "Ada" not in str(update.detail)


def test_the_patient_list_records_the_rows_shown_but_not_the_search(signed_in, site):
    patient = PatientFactory(site=site, family_name="Lindqvist")

    signed_in.post("/patients/", {"q": "Lindq"}, follow=True)

    (event,) = events("patient.listed")
    assert event.detail == {"patients": [patient.pk], "filters": ["query"]}
    assert "Lindq" not in str(event.detail)


def test_the_review_queue_records_the_results_it_showed(signed_in, site):
    diagnostic = succeeded(recording__patient=PatientFactory(site=site))

    signed_in.get("/review/")

    (event,) = events("review_queue.viewed")
    assert event.detail == {"diagnostics": [diagnostic.pk]}
