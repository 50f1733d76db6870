"""``/api/v1/patients/``: list by cursor, create through the patient service, read one; audited."""

import pytest

from portal.core.models import AuditEvent, Patient, Role
from tests.factories import MembershipFactory, PatientFactory

pytestmark = pytest.mark.django_db

NEW_PATIENT = {"external_id": "MRN-NEW-1", "given_name": "Ines", "family_name": "Ortega",
               "birth_date": "1984-07-02", "sex": "female", "research_consent": True}  # fmt: skip


def test_the_list_pages_by_cursor_newest_first_and_is_audited(clinician_api, site):
    patients = [PatientFactory(site=site) for _ in range(5)]

    first = clinician_api.get("/api/v1/patients/", {"page_size": 2}).json()
    second = clinician_api.get(first["next"]).json()

    assert set(first) == {"next", "previous", "results"}
    assert [p["id"] for p in first["results"]] == [patients[4].pk, patients[3].pk]
    assert [p["id"] for p in second["results"]] == [patients[2].pk, patients[1].pk]
    assert second["previous"] is not None
    events = AuditEvent.objects.filter(action="patient.listed").order_by("id")
    assert [e.detail["patients"] for e in events] == [
        [patients[4].pk, patients[3].pk],
        [patients[2].pk, patients[1].pk],
    ]


def test_creating_a_patient_returns_it_and_audits_the_fields_not_the_values(clinician_api, site):
    response = clinician_api.post("/api/v1/patients/", NEW_PATIENT, format="json")

    assert response.status_code == 201
    body = response.json()
    assert body["site"] == site.pk and body["site_code"] == "north"
    assert body["research_consent"] is True and body["research_consent_at"]
    patient = Patient.objects.get(pk=body["id"])
    event = AuditEvent.objects.get(action="patient.created")
    assert event.patient == patient
    assert "Ortega" not in str(event.detail) and "MRN-NEW-1" not in str(event.detail)


def test_a_taken_external_id_is_409(clinician_api, site):
    PatientFactory(site=site, external_id="MRN-NEW-1")

    response = clinician_api.post("/api/v1/patients/", NEW_PATIENT, format="json")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "external_id_taken"


def test_invalid_input_is_400_with_the_fields(clinician_api, site):
    future = clinician_api.post(
        "/api/v1/patients/", {**NEW_PATIENT, "birth_date": "2999-01-01"}, format="json"
    )
    missing = clinician_api.post("/api/v1/patients/", {"given_name": "X"}, format="json")

    assert future.status_code == 400 and "birth_date" in future.json()["error"]["fields"]
    assert missing.status_code == 400
    assert {"external_id", "family_name", "birth_date"} <= set(missing.json()["error"]["fields"])
    assert not Patient.objects.exists()


def test_a_clinician_of_two_sites_must_name_the_site(clinician, clinician_api, site, other_site):
    MembershipFactory(user=clinician, site=other_site, role=Role.CLINICIAN)

    unnamed = clinician_api.post("/api/v1/patients/", NEW_PATIENT, format="json")
    named = clinician_api.post(
        "/api/v1/patients/", {**NEW_PATIENT, "site": other_site.pk}, format="json"
    )

    assert unnamed.status_code == 400 and "site" in unnamed.json()["error"]["fields"]
    assert named.status_code == 201 and named.json()["site"] == other_site.pk


def test_reading_a_patient_is_audited_with_the_patient(clinician, clinician_api, site):
    patient = PatientFactory(site=site, given_name="Ines")

    response = clinician_api.get(f"/api/v1/patients/{patient.pk}/")

    assert response.status_code == 200 and response.json()["given_name"] == "Ines"
    event = AuditEvent.objects.get(action="patient.viewed")
    assert event.patient == patient and event.actor == clinician
    assert event.request_id == response["X-Request-ID"]


def test_a_patient_is_looked_up_by_external_id_without_it_entering_a_url(
    clinician_api, site, other_site
):
    mine = PatientFactory(site=site, external_id="MRN-LOOK-1")
    PatientFactory(site=site, external_id="MRN-LOOK-2")
    PatientFactory(site=other_site, external_id="MRN-LOOK-1")

    found = clinician_api.post("/api/v1/patients/lookup/", {"external_id": "MRN-LOOK-1"},
                               format="json")  # fmt: skip
    none = clinician_api.post("/api/v1/patients/lookup/", {"external_id": "mrn-look-1"},
                              format="json")  # fmt: skip
    empty = clinician_api.post("/api/v1/patients/lookup/", {}, format="json")
    ignored = clinician_api.get("/api/v1/patients/", {"external_id": "MRN-LOOK-1"})

    assert found.status_code == 200 and [row["id"] for row in found.json()] == [mine.pk]
    assert none.json() == []
    assert empty.status_code == 400 and "external_id" in empty.json()["error"]["fields"]
    assert ignored.status_code == 200 and len(ignored.json()["results"]) == 2  # no such filter
