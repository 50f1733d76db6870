"""What a clinician notices at a glance: one date format per language, the patient's age beside
the birth date, symptoms on the timeline cards, and a home page with a worklist (today's results,
the patients they saw last) at a fixed number of queries."""

import datetime

import pytest
from django.utils import timezone

from portal.pages import selectors
from tests.factories import PatientFactory
from tests.factories_clinical import failed, succeeded

pytestmark = pytest.mark.django_db

HOME_QUERIES = 13


@pytest.fixture
def signed_in(signed_in):
    signed_in.get("/healthz")  # renews the session: the requests measured fall within the interval
    return signed_in


def test_the_patient_header_gives_the_age_beside_the_birth_date(signed_in, site):
    today = timezone.localdate()
    patient = PatientFactory(site=site, birth_date=today.replace(year=today.year - 40)
                             + datetime.timedelta(days=1))  # fmt: skip

    page = signed_in.get(f"/patients/{patient.pk}/").content.decode()

    assert "(39 years old)" in page


def test_dates_use_one_format_on_the_patient_page(signed_in, site):
    patient = PatientFactory(site=site, birth_date=datetime.date(1970, 1, 1))
    succeeded(recording__patient=patient)

    page = signed_in.get(f"/patients/{patient.pk}/").content.decode()

    assert "Jan. 1, 1970" in page
    assert not any(f"/{timezone.localdate():%Y}" in line for line in page.splitlines())


def test_timeline_cards_show_the_recorded_symptoms(signed_in, site):
    patient = PatientFactory(site=site)
    succeeded(recording__patient=patient,
              symptoms={"fever": True, "cough_days": 4, "known_conditions": ["asthma"]})  # fmt: skip

    page = signed_in.get(f"/patients/{patient.pk}/").content.decode()

    assert "Fever: Yes" in page and "Cough for (days): 4" in page and "Asthma" in page


def test_home_lists_todays_results_and_the_patients_i_saw(signed_in, site):
    seen = PatientFactory(site=site, given_name="Seen", family_name="Before")
    signed_in.get(f"/patients/{seen.pk}/")
    result = succeeded(recording__patient=PatientFactory(site=site, given_name="Today",
                                                         family_name="Result"),
                       review_label="healthy", reviewed_at=timezone.now())  # fmt: skip
    old = succeeded(recording__patient=PatientFactory(site=site, given_name="Older"))
    old.finished_at = timezone.now() - datetime.timedelta(days=2)
    old.save()

    response = signed_in.get("/")

    summary = response.context["summary"]
    assert [d.pk for d in summary.results_today] == [result.pk]
    assert [p.pk for p in summary.recent_patients] == [seen.pk]
    assert "Today Result" in response.content.decode()
    assert "Seen Before" in response.content.decode()


def test_home_costs_the_same_for_one_row_or_full_lists(signed_in, site, monkeypatch,
                                                       django_assert_num_queries):  # fmt: skip
    # One window of today's settled rows for the whole test: read once, as the chart's past days.
    cut = selectors.settled_cut(timezone.now())
    monkeypatch.setattr(selectors, "settled_cut", lambda now: cut)
    patient = PatientFactory(site=site)
    succeeded(recording__patient=patient)
    signed_in.get(f"/patients/{patient.pk}/")
    signed_in.get("/healthz")
    signed_in.get("/")  # the chart's past days and today's settled rows: once a window
    with django_assert_num_queries(HOME_QUERIES):
        signed_in.get("/")

    for _ in range(12):
        other = PatientFactory(site=site)
        succeeded(recording__patient=other)
        failed(recording__patient=other)
        signed_in.get(f"/patients/{other.pk}/")
    with django_assert_num_queries(HOME_QUERIES):
        response = signed_in.get("/")
    assert len(response.context["summary"].results_today) == 10
    assert len(response.context["summary"].recent_patients) == 8
