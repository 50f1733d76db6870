"""The audit log's typed filters in a real browser: a compliance officer types who acted, presses
Enter, then narrows by patient without losing the first filter."""

import pytest

from portal.core.models import AuditEvent
from tests.e2e.test_admin_agreement import signed_in_admin
from tests.factories import PatientFactory, UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(120)]


def test_typing_an_actor_then_a_patient_narrows_the_audit_list(page, server, site):
    nurse, doctor = UserFactory(username="nurse.ada"), UserFactory(username="dr.bell")
    first, second = PatientFactory(site=site), PatientFactory(site=site)
    for actor, patient in [(nurse, first), (nurse, second), (doctor, first), (doctor, second)]:
        AuditEvent.objects.create(action="patient.viewed", actor=actor, patient=patient, site=site)
    signed_in_admin(page, server.url)

    page.goto(f"{server.url}/admin/portal/auditevent/?action=patient.viewed")
    page.get_by_role("searchbox", name="Actor").fill("Nurse.Ada")
    page.get_by_role("searchbox", name="Actor").press("Enter")
    page.wait_for_url("**actor=Nurse.Ada**")
    page.get_by_role("searchbox", name="Patient").fill(str(second.pk))
    page.get_by_role("searchbox", name="Patient").press("Enter")
    page.wait_for_url(f"**patient={second.pk}**")
    page.steps("audit list filtered")

    rows = page.locator("#result_list tbody tr")
    assert rows.count() == 1
    assert "nurse.ada" in rows.first.inner_text()
    assert "action=patient.viewed" in page.url and "actor=Nurse.Ada" in page.url
    page.locator('details[data-filter-title="actor"]').get_by_role("link", name="All").click()
    page.wait_for_url(lambda url: "actor=" not in url)
    assert "actor=" not in page.url and f"patient={second.pk}" in page.url
    assert page.locator("#result_list tbody tr").count() == 2
