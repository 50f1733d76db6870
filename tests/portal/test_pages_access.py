"""Who gets the clinician pages: clinicians of the patient's site. Anyone else is sent to sign in
(anonymous), refused (researchers, staff without a clinical role), or told the record does not
exist (another site's clinician: 404, never 403)."""

import pytest

from portal.core.models import Role
from tests.factories import MembershipFactory, PatientFactory, UserFactory, verified_login
from tests.factories_clinical import failed, succeeded
from tests.portal.page_helpers import text_of

pytestmark = pytest.mark.django_db

PAGES = ["/", "/patients/", "/patients/new/", "/review/"]


@pytest.mark.parametrize("url", PAGES)
def test_anonymous_users_are_sent_to_sign_in(client, url):
    response = client.get(url)

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


@pytest.mark.parametrize("url", PAGES[1:])  # "/" is a researcher's own start page
def test_researchers_get_the_403_page_with_a_way_home_and_out(client, site, url):
    researcher = UserFactory()
    MembershipFactory(user=researcher, site=site, role=Role.RESEARCHER)
    client.force_login(researcher)

    response = client.get(url)

    assert response.status_code == 403
    assert b"You do not have access to this" in response.content
    assert b'action="/accounts/logout/"' in response.content
    assert b'<a href="/">Back to the start page</a>' in response.content
    assert client.get("/").status_code == 200  # where that link leads


def test_staff_without_a_clinical_role_get_403_and_superusers_get_in(client, site):
    verified_login(client, UserFactory(is_staff=True))  # both need the second factor
    assert client.get("/patients/").status_code == 403

    verified_login(client, UserFactory(is_superuser=True))
    assert client.get("/patients/").status_code == 200


def test_another_sites_patient_is_not_found_on_every_page_and_action(client, other_clinician, site):
    patient = PatientFactory(site=site)
    result = succeeded(recording__patient=patient)
    broken = failed(recording__patient=patient)
    client.force_login(other_clinician)

    gets = [f"/patients/{patient.pk}/", f"/patients/{patient.pk}/edit/",
            f"/diagnostics/{result.pk}/", f"/diagnostics/{result.pk}/card/"]  # fmt: skip
    for url in gets:
        assert client.get(url).status_code == 404, url
    review = client.post(f"/diagnostics/{result.pk}/review/", {"decision": "confirm"})
    retry = client.post(f"/diagnostics/{broken.pk}/retry/")
    edit = client.post(f"/patients/{patient.pk}/edit/", {"given_name": "Changed"})

    assert (review.status_code, retry.status_code, edit.status_code) == (404, 404, 404)
    result.refresh_from_db()
    broken.refresh_from_db()
    patient.refresh_from_db()
    assert result.review_label == "" and broken.status == "failed"
    assert patient.given_name != "Changed"


def test_a_404_for_a_missing_patient_looks_the_same_as_one_for_another_site(
    client, other_clinician, site
):
    patient = PatientFactory(site=site)
    client.force_login(other_clinician)

    foreign = client.get(f"/patients/{patient.pk}/")
    missing = client.get("/patients/999999/")

    assert foreign.status_code == missing.status_code == 404
    assert text_of(foreign) == text_of(missing)
    assert patient.family_name not in text_of(foreign)
