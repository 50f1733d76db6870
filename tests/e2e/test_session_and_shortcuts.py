"""The idle-session warning appears before the timeout and "Stay signed in" renews the session;
the review queue can be worked with the keyboard alone."""

import pytest

from diagnostics.models import Diagnostic
from tests.e2e.conftest import sign_in
from tests.factories import PatientFactory
from tests.factories_clinical import succeeded

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(120)]

HIDDEN_RECORDER = """() => {
  const dialog = document.querySelector("[data-session-warning-dialog]");
  new MutationObserver(() => {
    if (dialog.hidden && window.sessionWarningClosedAt === undefined) {
      window.sessionWarningClosedAt = Date.now();
    }
  }).observe(dialog, { attributes: true, attributeFilter: ["hidden"] });
}"""


def test_the_idle_warning_appears_and_staying_signed_in_renews_the_session(
    page, process_env, tmp_path, clinician
):
    from tests.processes import asgi_server

    # A 2 min 5 s idle timeout: the warning (2 min before the end) is due 5 s after a request.
    server = asgi_server({**process_env, "SESSION_IDLE_SECONDS": "125"}, tmp_path)
    try:
        sign_in(page, server.url, "clin")
        page.goto(f"{server.url}/patients/")
        dialog = page.wait_for_selector("[data-session-warning-dialog]", state="visible",
                                         timeout=12_000)  # fmt: skip
        page.steps("warning shown")
        assert "You will be signed out soon" in dialog.inner_text()
        assert page.evaluate("() => document.activeElement.matches('[data-session-stay]')")

        # The renewed session warns again 5 s later: record the dialog closing rather than poll
        # for it, so that a machine that stalls the test longer than that cannot miss it.
        page.evaluate(HIDDEN_RECORDER)
        clicked_at = page.evaluate("() => Date.now()")
        with page.expect_response(lambda r: r.url.endswith("/accounts/session/")) as answer:
            page.click("[data-session-stay]")
        assert answer.value.status == 204
        page.wait_for_function("() => window.sessionWarningClosedAt !== undefined")
        assert page.evaluate("() => window.sessionWarningClosedAt") >= clicked_at
        assert int(page.evaluate("() => localStorage.getItem('portal.lastActivity')")) >= clicked_at
        page.steps("renewed")
    finally:
        server.stop()


def test_the_review_queue_works_from_the_keyboard(page, server, clinician, site):
    first = succeeded(recording__patient=PatientFactory(site=site), label="anomaly")
    second = succeeded(recording__patient=PatientFactory(site=site), label="healthy")
    Diagnostic.objects.filter(pk=first.pk).update(queued_at=second.queued_at.replace(year=2020))
    sign_in(page, server.url, "clin")
    page.goto(f"{server.url}/review/")
    page.steps("queue")

    page.keyboard.press("j")
    assert page.evaluate("() => document.activeElement.id") == f"review-{first.pk}"
    with page.expect_navigation():  # back to the same URL: wait for the new page's load
        page.keyboard.press("c")
    page.wait_for_selector(f"#review-{first.pk}", state="detached")
    page.keyboard.press("j")
    page.keyboard.press("x")
    page.select_option(f"#label-{second.pk}", "anomaly")
    page.keyboard.press("Enter")
    page.wait_for_selector("text=Nothing to review.")
    page.steps("all reviewed")

    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.review_label, second.review_label) == ("anomaly", "anomaly")
    assert page.inner_text("[data-review-count]").strip() == "0"
