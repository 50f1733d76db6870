"""Patients from the hospital's record: found on the patient form by number or name, created
from the chosen record with its identifier kept, and reconciled every night (audited)."""

import datetime

import pytest

from portal.core.models import AuditEvent, Patient
from portal.fhir import records
from tests.fhir.conftest import HOSPITAL, record_patient

pytestmark = pytest.mark.django_db

PAGE = "/patients/new/from-record/"


def test_a_patient_is_created_from_the_record_found_by_name(
    fhir_server, signed_in, clinician, site
):
    ada = record_patient(fhir_server)
    record_patient(fhir_server, mrn="MRN-0001", family="Other", given="Person")

    form = signed_in.get("/patients/new/")
    found = signed_in.post(PAGE, {"search": "1", "identifier": "", "name": "okaf"})
    created = signed_in.post(PAGE, {"record": ada["id"]})

    assert PAGE.encode() in form.content  # the patient form offers the record
    assert found.status_code == 200
    assert (
        b"Okafor" in found.content
        and b"MRN-4711" in found.content
        and b"Other" not in found.content
    )
    patient = Patient.objects.get()
    assert created.status_code == 302 and created["Location"] == f"/patients/{patient.pk}/"
    assert (
        patient.site,
        patient.external_id,
        patient.identifier_system,
        patient.identifier_value,
    ) == (site, "MRN-4711", HOSPITAL, "MRN-4711")
    assert (patient.given_name, patient.family_name, patient.birth_date, patient.sex) == (
        "Ada",
        "Okafor",
        datetime.date(1961, 4, 12),
        "female",
    )
    search = AuditEvent.objects.get(action="fhir.record_searched")
    assert search.detail == {"by": "name", "results": 1}  # never the name searched for
    assert AuditEvent.objects.filter(
        action="patient.created", patient=patient, actor=clinician
    ).exists()


def test_a_record_found_by_number_is_not_added_twice(fhir_server, signed_in):
    ada = record_patient(fhir_server)
    found = signed_in.post(PAGE, {"search": "1", "identifier": "MRN-4711", "name": ""})
    signed_in.post(PAGE, {"record": ada["id"]})

    again = signed_in.post(PAGE, {"record": ada["id"]})

    assert b"Okafor" in found.content
    assert again.status_code == 409 and b"already has this external id" in again.content
    assert Patient.objects.count() == 1


def test_an_unreachable_record_is_a_form_error_and_no_record_no_page(
    fhir_server, signed_in, settings
):
    fhir_server.stop()
    down = signed_in.post(PAGE, {"search": "1", "identifier": "MRN-4711", "name": ""})
    empty = signed_in.post(PAGE, {"search": "1", "identifier": "", "name": ""})
    settings.FHIR_BASE_URL = ""
    unconfigured = signed_in.get(PAGE)

    assert down.status_code == 503 and b"cannot be reached" in down.content
    assert empty.status_code == 400 and b"Enter a record number or a name." in empty.content
    assert unconfigured.status_code == 404
    assert PAGE.encode() not in signed_in.get("/patients/new/").content


def test_the_nightly_reconciliation_brings_names_and_birth_dates_in_line(
    fhir_server, linked_patient, patient
):
    record_patient(fhir_server, family="Okafor-Ndiaye", given="Ada", born="1961-04-21")
    unchanged = linked_patient.family_name, patient.family_name

    changed = records.reconcile_linked_patients()

    linked_patient.refresh_from_db(), patient.refresh_from_db()
    assert changed == 1
    assert (linked_patient.family_name, linked_patient.given_name, linked_patient.birth_date) == (
        "Okafor-Ndiaye",
        "Ada",
        datetime.date(1961, 4, 21),
    )
    assert patient.family_name == unchanged[1]  # not linked: left alone
    event = AuditEvent.objects.get(action="patient.reconciled")
    assert event.patient_id == linked_patient.pk and event.actor is None
    assert event.detail == {"fields": ["birth_date", "family_name", "given_name"]}
    assert records.reconcile_linked_patients() == 0  # nothing left to change
