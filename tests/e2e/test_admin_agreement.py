"""The agreement admin page in a real browser: the weekly chart of two model versions and the
confusion matrix, from the daily rows; its picture is docs/screenshots/admin-agreement.png
(written when E2E_SCREENSHOTS_DIR is set)."""

import datetime as dt
import os
from pathlib import Path

import pytest
from django.test import Client
from django.utils import timezone

from diagnostics import agreement
from tests.factories import PatientFactory, UserFactory, verified_login
from tests.factories_clinical import ModelVersionFactory, succeeded

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(120)]

# (weeks ago, agreeing, disagreeing) per version: the first holds steady, the second slips.
HISTORY = {
    "1.0": [(7, 17, 3), (6, 18, 2), (5, 16, 4), (4, 17, 3), (3, 18, 2), (2, 17, 3)],
    "1.1": [(3, 9, 1), (2, 8, 2), (1, 6, 4), (0, 5, 5)],
}


def reviewed_history(site):
    now = timezone.now()
    for version_name, weeks in HISTORY.items():
        version = ModelVersionFactory(name="cough-cnn", version=version_name)
        for weeks_ago, agreeing, disagreeing in weeks:
            when = now - dt.timedelta(weeks=weeks_ago)
            for index in range(agreeing + disagreeing):
                label = "anomaly" if index % 3 == 0 else "healthy"
                review = label if index < agreeing else {"anomaly": "healthy"}.get(label, "anomaly")
                succeeded(recording__patient=PatientFactory(site=site), model_version=version,
                          label=label, review_label=review, reviewed_at=when, finished_at=when)  # fmt: skip
    agreement.refresh_days(timezone.localdate(now - dt.timedelta(weeks=8)), timezone.localdate())


def signed_in_admin(page, base_url: str) -> None:
    """An administrator's session (second factor verified), handed to the browser as a cookie."""
    client = Client()
    verified_login(client, UserFactory(username="root", is_staff=True, is_superuser=True))
    page.context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": base_url}]
    )


def test_the_agreement_page_charts_each_version_per_week_beside_the_confusion_matrix(
    page, server, site
):
    reviewed_history(site)
    signed_in_admin(page, server.url)

    page.goto(f"{server.url}/admin/diagnostics/dailyagreement/?weeks=12")
    page.steps("agreement page")

    assert page.locator("[data-agreement-chart] polyline").count() == 2
    assert page.locator("[data-agreement-chart] circle").count() == 10  # a point per week shown
    rows = page.locator("[data-agreement-weeks] tbody tr")
    assert rows.count() == 10
    last = rows.nth(9).inner_text().split("\t")
    assert last[0] == "cough-cnn 1.1" and last[2:] == ["10", "5"]
    assert "agreed with 131 of 160 reviews" in page.inner_text("[data-agreement-page]")
    if os.environ.get("E2E_SCREENSHOTS_DIR"):
        folder = Path(os.environ["E2E_SCREENSHOTS_DIR"])
        folder.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(folder / "admin-agreement.png"), full_page=True)
