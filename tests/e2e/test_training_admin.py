"""The administrator's view of training in a real browser: a training run's page (progress per
epoch, the evaluation with its reliability diagram, subgroups, calibration, log), and the promotion
page that puts a candidate beside production, refuses what the gate refuses, and promotes only with
a written reason. With DOCS_SCREENSHOTS=1 the two pages are saved to docs/screenshots/."""

import os
from pathlib import Path

import pytest

from diagnostics.models import ModelStatus
from tests.diagnostics.training_cases import inverted_candidate, trained_candidate
from tests.e2e.conftest import PASSWORD
from tests.factories import UserFactory, current_totp, totp_device

pytestmark = pytest.mark.django_db(transaction=True)

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def admin_sign_in(page, base_url: str, user, device) -> None:
    page.goto(f"{base_url}/admin/login/?next=/admin/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    page.fill("#id_otp_token", current_totp(device))
    page.click("input[type=submit]")
    page.wait_for_url(f"{base_url}/admin/")


def keep(page, name: str) -> None:
    page.steps(name)
    if os.environ.get("DOCS_SCREENSHOTS") == "1":
        page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=True)


def test_training_run_page_and_gated_promotion_in_the_admin(
    page, server, site, clinician, tmp_path
):
    from diagnostics import registry, training_worker

    run = trained_candidate(site=site, reviewer=clinician)
    registry.promote(version=run.model_version)
    worse = inverted_candidate(run, tmp_path)
    training_worker.compare_with_production(version=worse)
    admin = UserFactory(username="root", is_staff=True, is_superuser=True)
    admin_sign_in(page, server.url, admin, totp_device(admin))

    page.goto(f"{server.url}/admin/diagnostics/trainingrun/{run.pk}/change/")
    assert page.locator("svg.reliability-diagram rect").count() > 2
    body = page.inner_text("#content").lower()
    assert "epoch 4 of 4" in body and "subgroups" in body and "temperature" in body
    keep(page, "admin-training-run")

    page.goto(f"{server.url}/admin/diagnostics/modelversion/{worse.pk}/promote/")
    assert page.locator("table.model-comparison").is_visible()
    assert "The promotion gate refuses this model" in page.inner_text("#content")
    keep(page, "admin-model-comparison")

    page.click("input[type=submit]")  # no reason written: refused, nothing changes
    assert page.locator(".errorlist").is_visible()
    worse.refresh_from_db()
    assert worse.status == ModelStatus.CANDIDATE
    page.fill("#id_override_reason", "Approved by the clinical lead for a test")
    page.click("input[type=submit]")
    page.wait_for_url(f"{server.url}/admin/diagnostics/modelversion/{worse.pk}/change/")
    worse.refresh_from_db()
    assert worse.status == ModelStatus.PRODUCTION
