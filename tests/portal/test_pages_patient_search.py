"""Patient search: a prefix of any word of the name (with the words after it) or of the external id
finds the patient, whatever the accents, capitals and letters like ø; filters narrow the list;
pages follow each other by keyset without gaps or repeats; what was searched for never appears in
a URL."""

from urllib.parse import parse_qs, urlsplit

import pytest

from portal.core.models import Patient, PatientSearchTerm
from portal.core.services import update_patient
from tests.factories import PatientFactory
from tests.factories_clinical import succeeded

pytestmark = pytest.mark.django_db


def found(client, **params) -> list[str]:
    response = client.post("/patients/", params, follow=True)
    assert response.status_code == 200
    for url, _ in response.redirect_chain:
        # The search reaches the URL only as the session's random token (which can, by chance,
        # hold a short term such as "oe": compare the token, not the URL's text).
        url = urlsplit(url)
        assert url.path == "/patients/" and set(parse_qs(url.query)) <= {"search"}, url
        for token in parse_qs(url.query).get("search", []):
            assert token in client.session["patient_searches"], url
    return [p.external_id for p in response.context["page"].items]


@pytest.fixture
def patients(site, other_site):
    PatientFactory(site=site, external_id="N-100", given_name="Åsa", family_name="Öberg")
    PatientFactory(site=site, external_id="N-200", given_name="José", family_name="Núñez")
    PatientFactory(site=site, external_id="ab-300", given_name="Ada", family_name="Abara")
    PatientFactory(site=other_site, external_id="S-100", given_name="Åsa", family_name="Öberg")


@pytest.mark.parametrize(
    "query", ["öberg", "OBERG", "Ober", "  oberg ", "asa", "ÅSA ÖB", "Oberg A"]
)
def test_names_are_found_by_prefix_ignoring_accents_and_case(signed_in, patients, query):
    assert found(signed_in, q=query) == ["N-100"]


def test_external_ids_are_found_by_prefix_ignoring_case(signed_in, patients):
    assert found(signed_in, q="n-1") == ["N-100"]
    assert found(signed_in, q="AB-3") == ["ab-300"]


def test_search_is_a_prefix_match_not_a_substring_match(signed_in, patients):
    assert found(signed_in, q="berg") == []
    assert found(signed_in, q="100") == []


def test_search_never_reaches_another_site(signed_in, patients):
    assert "S-100" not in found(signed_in, q="oberg")


def test_renaming_a_patient_updates_what_search_finds(signed_in, clinician, patients):
    patient = Patient.objects.get(external_id="N-200")
    update_patient(patient=patient, actor=clinician, family_name="Ibáñez")

    assert found(signed_in, q="ibanez") == ["N-200"]
    assert found(signed_in, q="nunez") == []


def test_consent_and_waiting_results_filter_the_list(signed_in, site):
    PatientFactory(site=site, external_id="C-1", research_consent=True,
                   research_consent_at="2024-01-01T00:00:00Z")  # fmt: skip
    waiting = PatientFactory(site=site, external_id="W-1")
    succeeded(recording__patient=waiting)
    reviewed = PatientFactory(site=site, external_id="R-1")
    succeeded(recording__patient=reviewed, review_label="healthy",
              reviewed_at="2024-01-01T00:00:00Z")  # fmt: skip

    assert found(signed_in, consent="yes") == ["C-1"]
    assert sorted(found(signed_in, consent="no")) == ["R-1", "W-1"]
    assert found(signed_in, to_review="on") == ["W-1"]


def test_pages_follow_each_other_forward_and_back_in_name_order(signed_in, site):
    for n in range(60):
        PatientFactory(site=site, external_id=f"P-{n:02d}", family_name=f"Name{n:02d}")

    first = signed_in.get("/patients/").context["page"]
    second = signed_in.get("/patients/", {"after": first.next_after}).context["page"]
    third = signed_in.get("/patients/", {"after": second.next_after}).context["page"]
    back = signed_in.get("/patients/", {"before": second.previous_before}).context["page"]

    ids = [p.external_id for page in (first, second, third) for p in page.items]
    assert ids == [f"P-{n:02d}" for n in range(60)]
    assert third.next_after is None and first.previous_before is None
    assert [p.pk for p in back.items] == [p.pk for p in first.items]
    assert first.count == 60 and not first.count_capped


def test_the_count_is_capped_instead_of_counting_everything(signed_in, site, monkeypatch):
    monkeypatch.setattr("portal.pages.selectors.COUNT_CAP", 5)
    for _ in range(8):
        PatientFactory(site=site)

    response = signed_in.get("/patients/")

    assert response.context["page"].count_capped
    assert b"More than 5 patients" in response.content


def test_a_search_is_kept_in_the_session_for_reloads_and_pages(signed_in, site):
    for n in range(30):
        PatientFactory(site=site, external_id=f"P-{n:02d}", family_name=f"Smith{n:02d}")
    PatientFactory(site=site, external_id="J-1", family_name="Jones")

    response = signed_in.post("/patients/", {"q": "smith"})
    url = response["Location"]
    first = signed_in.get(url).context["page"]
    second = signed_in.get(url, {"after": first.next_after}).context["page"]

    assert url.startswith("/patients/?search=") and "smith" not in url.lower()
    assert len(first.items) + len(second.items) == 30 and second.next_after is None
    assert "J-1" not in [p.external_id for p in first.items + second.items]


def test_a_name_in_the_address_is_ignored(signed_in, patients):
    response = signed_in.get("/patients/", {"q": "oberg"})

    assert len(response.context["page"].items) == 3  # the whole list: no search from a URL


def test_an_expired_search_says_so_and_lists_everyone(signed_in, patients):
    response = signed_in.get("/patients/?search=gone")

    assert len(response.context["page"].items) == 3
    assert b"That search has expired" in response.content


def test_an_overlong_query_is_a_form_error(signed_in, patients):
    response = signed_in.post("/patients/", {"q": "x" * 101})

    assert response.status_code == 400
    assert b"at most 100 characters" in response.content


@pytest.fixture
def zoe(site):
    return PatientFactory(site=site, external_id="Z-1", given_name="Zoë",
                          family_name="Ğüneş-Ødegård")  # fmt: skip


@pytest.mark.parametrize(
    "query",
    ["zoe", "gunes", "guneş", "odegard", "ødegård", "Ødegård", "ODEG", "gunes-odegard",
     "Güneş Ødegård", "odegard zoe"],
)  # fmt: skip
def test_any_word_of_any_name_part_is_found_from_its_start(signed_in, zoe, query):
    assert found(signed_in, q=query) == ["Z-1"]


@pytest.mark.parametrize(
    ("given", "family", "query"),
    [("Æsa", "Strauß", "aesa"), ("Æsa", "Strauß", "strauss"), ("Łukasz", "Đorđević", "lukasz"),
     ("Łukasz", "Đorđević", "dordevic"), ("Seán", "O\u2019Brien", "o'brien"),
     ("Seán", "O\u2019Brien", "obrien")],
)  # fmt: skip
def test_letters_that_are_not_accented_forms_are_transliterated(signed_in, site, given, family,
                                                                query):  # fmt: skip
    PatientFactory(site=site, external_id="T-1", given_name=given, family_name=family)

    assert found(signed_in, q=query) == ["T-1"]


def test_a_word_is_matched_from_its_start_only(signed_in, zoe):
    assert found(signed_in, q="degard") == []
    assert found(signed_in, q="oe") == []


def test_search_terms_carry_the_patients_site_and_follow_it_when_it_changes(site, other_site):
    patient = PatientFactory(site=site, given_name="Åsa", family_name="Öberg")
    terms = PatientSearchTerm.objects.filter(patient=patient)
    assert set(terms.values_list("site_id", flat=True)) == {site.pk}

    patient.site = other_site
    patient.save(update_fields=["site"])

    assert set(terms.values_list("site_id", flat=True)) == {other_site.pk}
    searched = Patient.objects.search("oberg", site_ids=[site.pk])
    assert list(searched) == []
    assert list(Patient.objects.search("oberg", site_ids=[other_site.pk])) == [patient]
