"""The whole clinical loop in a browser: sign in, add a patient, record a cough through the fake
microphone, upload it, watch it go from queued to a result without reloading, open the result,
confirm it, and see the review count in the navigation drop."""

import os
import re
from pathlib import Path

import pytest

from diagnostics.models import Diagnostic
from tests.e2e.conftest import sign_in, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(240)]

# Every status the timeline shows, in order, whichever way it arrived (socket, polling, swap).
WATCH_STATUSES = """
window.__noReload = true;
window.__statuses = [];
const note = (el) => {
  const s = el.dataset.status;
  if (s && window.__statuses[window.__statuses.length - 1] !== s) window.__statuses.push(s);
};
new MutationObserver((changes) => {
  for (const change of changes) {
    const nodes = change.type === "attributes" ? [change.target] : [...change.addedNodes];
    for (const node of nodes) {
      if (node.nodeType !== 1) continue;
      if (node.matches(".result")) note(node);
      node.querySelectorAll?.(".result").forEach(note);
    }
  }
}).observe(document.querySelector("[data-timeline]"),
  {subtree: true, childList: true, attributes: true, attributeFilter: ["data-status"]});
"""


def add_patient(page, base_url):
    page.click("nav >> text=Patients")
    page.click("text=Add a patient")
    page.fill("#id_external_id", "E2E-0001")
    page.fill("#id_given_name", "Rosa")
    page.fill("#id_family_name", "Eklünd")
    page.fill("#id_birth_date", "1984-03-02")
    page.select_option("#id_sex", "female")
    page.check("#id_research_consent")
    page.steps("patient form")
    page.click("main button[type=submit]")
    page.wait_for_url(re.compile(rf"{re.escape(base_url)}/patients/\d+/$"))


def record_a_cough(page):
    page.check("input[name=kind][value=cough]")
    page.click("[data-action=record]")
    page.wait_for_selector("[data-action=stop]:visible")
    wait_until(page, "document.querySelector('[data-level]').value > 0.2", what="the level meter")
    wait_until(page, "document.querySelector('[data-elapsed]').textContent >= '0:04'")
    page.steps("recording")
    page.click("[data-action=stop]")
    page.wait_for_selector("[data-preview]:visible")
    page.wait_for_selector("[data-action=upload]:enabled")


def test_a_clinician_records_a_cough_sees_the_result_live_and_confirms_it(
    page, server, inference_worker, clinician
):
    sign_in(page, server.url, "clin")
    page.steps("signed in")
    add_patient(page, server.url)
    page.evaluate(WATCH_STATUSES)
    page.steps("patient page")

    record_a_cough(page)
    page.check("input[name=fever][value=yes]")
    page.fill("#cough-days", "4")
    page.check("input[name=known_conditions][value=asthma]")
    page.click("[data-action=upload]")
    page.wait_for_selector("[data-message].is-ok")
    page.wait_for_selector(".timeline-item .result")
    page.steps("uploaded")

    page.wait_for_selector(".result[data-status=succeeded]", timeout=120_000)
    page.steps("result arrived")
    statuses = page.evaluate("window.__statuses")
    assert statuses[0] in ("queued", "running") and statuses[-1] == "succeeded", statuses
    assert page.evaluate("window.__noReload") is True  # it all happened on the same page
    assert page.inner_text("[data-review-count]").strip() == "1"  # counted live, too
    card = page.inner_text(".timeline-item")
    assert "Model e2e-cough-cnn 1" in card
    assert "Trained on synthetic data; not for clinical use." in card
    assert "Research use only, not a medical device." in card  # the live card, too
    diagnostic = Diagnostic.objects.get()
    assert diagnostic.symptoms == {"fever": True, "cough_days": 4, "known_conditions": ["asthma"]}
    assert diagnostic.recording.content_type == "audio/webm"
    if os.environ.get("E2E_SCREENSHOTS_DIR"):
        folder = Path(os.environ["E2E_SCREENSHOTS_DIR"])
        folder.mkdir(parents=True, exist_ok=True)
        page.evaluate("() => window.scrollTo(0, 0)")
        page.screenshot(path=str(folder / "patient-page.png"), full_page=False)

    page.click(".result >> text=Open result")
    page.wait_for_url(f"{server.url}/diagnostics/{diagnostic.pk}/")
    assert page.inner_text("[data-review-count]").strip() == "1"
    page.steps("result page")
    page.check("input[name=decision][value=confirm]")
    page.fill("#id_note", "Typical dry cough.")
    page.click("text=Save review")
    page.wait_for_selector(".review-panel .review-state")
    page.steps("reviewed")

    assert page.inner_text("[data-review-count]").strip() == "0"
    assert "Reviewed by clin" in page.inner_text(".review-panel")
    diagnostic.refresh_from_db()
    assert diagnostic.review_label == diagnostic.label and diagnostic.reviewed_by == clinician
    assert page.console_errors == []
