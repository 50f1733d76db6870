"""A clinician's correction becomes the headline of the result wherever it is shown, with what the
model said beneath; the "Correct to" list of the review queue fits its card."""

import pytest

from diagnostics.models import Diagnostic
from tests.e2e.conftest import sign_in
from tests.factories import PatientFactory
from tests.factories_clinical import succeeded

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(120)]


def test_a_correction_replaces_the_headline_on_the_result_page_and_the_timeline(
    page, server, clinician, site
):
    patient = PatientFactory(site=site)
    diagnostic = succeeded(recording__patient=patient, label="healthy", confidence=0.91)
    sign_in(page, server.url, "clin")

    page.goto(f"{server.url}/diagnostics/{diagnostic.pk}/")
    page.check("input[name=decision][value=correct]")
    page.select_option("select[name=label]", "anomaly")
    page.click(".review-form button[type=submit]")
    page.wait_for_selector(".review-state")
    page.steps("corrected")

    for where in (f"/diagnostics/{diagnostic.pk}/", f"/patients/{patient.pk}/"):
        page.goto(f"{server.url}{where}")
        headline = page.locator(f"[data-diagnostic-id='{diagnostic.pk}'] .result-label")
        assert headline.inner_text() == "possible respiratory anomaly", where
        said = page.locator(f"[data-diagnostic-id='{diagnostic.pk}'] .result-model-said")
        assert said.inner_text() == "Model said likely healthy (91%)", where
    diagnostic.refresh_from_db()
    assert (diagnostic.label, diagnostic.confidence) == ("healthy", 0.91)  # the model's, kept


def test_the_correct_to_list_fits_its_card_in_the_review_queue(page, server, clinician, site):
    succeeded(recording__patient=PatientFactory(site=site), label="healthy")
    sign_in(page, server.url, "clin")

    page.goto(f"{server.url}/review/")
    page.steps("queue")
    card = page.locator("[data-review-item]").first.bounding_box()
    select = page.locator("[data-review-label]").first.bounding_box()
    button = page.locator("[data-review-correct]").first.bounding_box()

    assert select["x"] + select["width"] <= card["x"] + card["width"]
    assert button["x"] + button["width"] <= card["x"] + card["width"]
    assert Diagnostic.objects.count() == 1
