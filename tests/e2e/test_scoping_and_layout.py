"""Another site's clinician cannot open a patient (404, as if it did not exist), and the pages
fit a 768 px tablet without sideways scrolling."""

import pytest

from tests.e2e.conftest import sign_in
from tests.factories import PatientFactory
from tests.factories_clinical import failed, succeeded

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(120)]


def test_a_clinician_of_another_site_gets_404_for_the_patient(
    page, server, clinician, other_clinician, site
):
    patient = PatientFactory(site=site)
    sign_in(page, server.url, "clin2")

    response = page.goto(f"{server.url}/patients/{patient.pk}/")
    page.steps("other site")

    assert response.status == 404
    assert "We could not find that page" in page.inner_text("main")
    assert patient.family_name not in page.content()


def test_the_pages_fit_a_768_px_tablet(page, server, clinician, site):
    patient = PatientFactory(site=site, given_name="Maximiliana", family_name="Lindqvist-Okafor")
    result = succeeded(recording__patient=patient, recording__quality={"warnings": ["too_quiet"]})
    failed(recording__patient=patient)
    page.set_viewport_size({"width": 768, "height": 1024})
    sign_in(page, server.url, "clin")

    for path in ["/", "/patients/", f"/patients/{patient.pk}/", f"/diagnostics/{result.pk}/",
                 "/review/", f"/patients/{patient.pk}/edit/"]:  # fmt: skip
        page.goto(f"{server.url}{path}")
        page.steps(f"tablet {path}")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 768, f"{path} is {width} px wide"
    assert page.console_errors == []
