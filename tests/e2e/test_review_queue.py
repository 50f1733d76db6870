"""The review queue reads as a list, one line per result, each with why it is there; a result's
player and spectrogram open with it (j/k). Beside a result, similar cases are recordings of the
same kind, and "Similar" / "Not similar" stay pressed once chosen."""

import pytest

from diagnostics.models import ModelStatus
from recommender import indexing
from tests.e2e.conftest import sign_in
from tests.factories import PatientFactory
from tests.factories_clinical import ModelVersionFactory, succeeded
from tests.recommender.cases import axis_vector, case, near
from tests.recommender.conftest import fresh_live_index  # noqa: F401  (an autouse fixture)

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(120)]


def test_the_review_queue_is_one_line_a_result_each_with_its_reason(page, server, clinician, site):
    for i in range(24):
        confidence = 0.55 if i % 3 == 0 else 0.95  # a third of them uncertain
        succeeded(recording__patient=PatientFactory(site=site), confidence=confidence)
    sign_in(page, server.url, "clin")
    page.goto(f"{server.url}/review/")
    page.steps("queue")

    items = page.query_selector_all("[data-review-item]")
    assert len(items) == 24
    for item in items:
        reasons = item.query_selector_all(".review-reason")
        assert reasons and all(reason.inner_text().strip() for reason in reasons), item.inner_text()
    assert sum("uncertain" in item.inner_text() for item in items) == 8
    height = page.evaluate("document.documentElement.scrollHeight")
    assert height < 3000, f"24 results make a {height} px page"
    assert not any(item.query_selector("audio").is_visible() for item in items)

    page.keyboard.press("j")
    page.keyboard.press("j")
    page.steps("second result open")
    assert page.evaluate("() => document.activeElement.id") == items[1].get_attribute("id")
    assert [item.query_selector("audio").is_visible() for item in items[:3]] == [False, True, False]

    page.click(f"#{items[2].get_attribute('id')} summary")  # a click on a line opens it instead
    assert [item.query_selector("audio").is_visible() for item in items[:3]] == [False, False, True]
    assert page.console_errors == []


def test_similar_cases_are_of_the_same_kind_and_the_feedback_stays_pressed(
    page, server, clinician, site
):
    version = ModelVersionFactory(status=ModelStatus.PRODUCTION, labels=["healthy", "anomaly"])
    query = case(patient=PatientFactory(site=site), vector=axis_vector(), version=version)
    cough = case(patient=PatientFactory(site=site), vector=near(0.95, 10), version=version,
                 review_label="anomaly")  # fmt: skip
    breath = case(patient=PatientFactory(site=site), vector=near(0.97, 11), version=version,
                  review_label="healthy", kind="breath")  # fmt: skip
    indexing.rebuild_index(reason="test")
    sign_in(page, server.url, "clin")
    page.goto(f"{server.url}/diagnostics/{query.pk}/")

    shown = page.eval_on_selector_all(
        "[data-similar-case]", "cases => cases.map(c => c.dataset.similarCase)"
    )
    assert shown == [str(cough.pk)], (shown, breath.pk)
    similar = f"[data-similar-case='{cough.pk}'] button[value=marked_similar]"
    not_similar = f"[data-similar-case='{cough.pk}'] button[value=dismissed]"
    assert page.get_attribute(similar, "aria-pressed") == "false"

    page.click(similar)
    page.wait_for_selector(".message >> text=Thank you")
    page.steps("marked similar")
    assert page.get_attribute(similar, "aria-pressed") == "true"
    assert page.get_attribute(not_similar, "aria-pressed") == "false"
    page.reload()
    assert page.get_attribute(similar, "aria-pressed") == "true"
    assert page.console_errors == []
