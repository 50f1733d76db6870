"""Creating and editing a patient: clear messages for a future birth date and a taken external id
(never a 500), consent dated when given and cleared when withdrawn."""

import datetime

import pytest
from django.utils import timezone

from portal.core.models import Patient, Role
from tests.factories import MembershipFactory, PatientFactory
from tests.portal.page_helpers import events, text_of

pytestmark = pytest.mark.django_db


def form(**overrides):
    data = {
        "external_id": "MRN-42", "given_name": "Ines", "family_name": "Castell",
        "birth_date": "1980-05-17", "sex": "female",
    }  # fmt: skip
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def test_a_new_patient_is_created_at_the_clinicians_site_and_shown(signed_in, clinician, site):
    response = signed_in.post("/patients/new/", form(research_consent="on"))

    patient = Patient.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/patients/{patient.pk}/"
    assert patient.site == site and patient.created_by == clinician
    assert patient.research_consent and patient.research_consent_at is not None
    assert events("patient.created")[0].detail["fields"][0] == "birth_date"


def test_a_birth_date_in_the_future_is_refused_with_a_message(signed_in):
    tomorrow = timezone.localdate() + datetime.timedelta(days=1)

    response = signed_in.post("/patients/new/", form(birth_date=tomorrow.isoformat()))

    assert response.status_code == 200
    assert "The birth date cannot be in the future." in text_of(response)
    assert not Patient.objects.exists()


def test_a_taken_external_id_gets_a_form_error_not_a_server_error(signed_in, site):
    PatientFactory(site=site, external_id="MRN-42")

    response = signed_in.post("/patients/new/", form(external_id=" MRN-42 "))

    assert response.status_code == 200
    assert "Another patient of this site already has this external id." in text_of(response)
    assert Patient.objects.count() == 1


def test_the_same_external_id_is_fine_at_another_site(client, clinician, site, other_site):
    MembershipFactory(user=clinician, site=other_site, role=Role.CLINICIAN)
    PatientFactory(site=site, external_id="MRN-42")
    client.force_login(clinician)

    response = client.post("/patients/new/", form(site=str(other_site.pk)))

    assert response.status_code == 302
    assert Patient.objects.filter(external_id="MRN-42", site=other_site).exists()


def test_editing_to_another_patients_external_id_is_refused(signed_in, site):
    PatientFactory(site=site, external_id="MRN-1")
    patient = PatientFactory(site=site, external_id="MRN-2")

    response = signed_in.post(f"/patients/{patient.pk}/edit/", form(external_id="MRN-1"))

    assert "Another patient of this site already has this external id." in text_of(response)
    patient.refresh_from_db()
    assert patient.external_id == "MRN-2"


def test_missing_fields_are_named(signed_in):
    response = signed_in.post("/patients/new/", form(given_name="", birth_date=""))

    assert text_of(response).count("This field is required.") == 2


def test_consent_keeps_its_date_while_given_and_is_cleared_when_withdrawn(signed_in, site):
    given_at = timezone.now() - datetime.timedelta(days=30)
    patient = PatientFactory(site=site, research_consent=True, research_consent_at=given_at)
    url = f"/patients/{patient.pk}/edit/"
    fields = form(external_id=patient.external_id, given_name=patient.given_name,
                  family_name=patient.family_name, birth_date="1970-01-01", sex="unknown")  # fmt: skip

    signed_in.post(url, {**fields, "research_consent": "on", "given_name": "Renamed"})
    patient.refresh_from_db()
    assert patient.research_consent_at == given_at

    signed_in.post(url, fields)
    patient.refresh_from_db()
    assert not patient.research_consent and patient.research_consent_at is None
    assert events("patient.updated")[-1].detail == {
        "fields": ["given_name", "research_consent", "research_consent_at"]
    }
