"""A clinician with nothing yet sees what to do next, not an empty table."""

import pytest

from tests.factories import PatientFactory
from tests.portal.page_helpers import text_of

pytestmark = pytest.mark.django_db


def test_an_empty_patient_list_invites_adding_the_first_patient(signed_in):
    page = text_of(signed_in.get("/patients/"))

    assert "No patients yet." in page and "Add a patient" in page


def test_a_search_without_matches_explains_how_search_works(signed_in, site):
    PatientFactory(site=site)

    page = text_of(signed_in.post("/patients/", {"q": "zzz"}, follow=True))

    assert "No patients match this search." in page


def test_a_patient_without_recordings_shows_how_to_record(signed_in, site):
    patient = PatientFactory(site=site)

    page = text_of(signed_in.get(f"/patients/{patient.pk}/"))

    assert "No recordings yet." in page and "Start recording" in page


def test_an_empty_review_queue_and_home_say_there_is_nothing_to_do(signed_in):
    assert "Nothing to review." in text_of(signed_in.get("/review/"))
    home = text_of(signed_in.get("/"))
    assert "No failed analyses. Nothing to retry." in home
    assert "No results in the last 14 days." in home
