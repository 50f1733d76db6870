"""A clinician finds a patient however the name is typed: any word of any name part, with or
without its accents, ø and friends included."""

import pytest

from tests.e2e.conftest import sign_in
from tests.factories import PatientFactory

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(120)]


def test_a_patient_is_found_by_any_word_of_the_name_however_typed(page, server, clinician, site):
    PatientFactory(site=site, external_id="Z-1", given_name="Zoë", family_name="Ğüneş-Ødegård")
    PatientFactory(site=site, external_id="A-1", given_name="Ada", family_name="Abara")
    sign_in(page, server.url, "clin")

    for query in ("odegard", "ødegård", "Ødegård", "gunes-odegard", "zoe"):
        page.goto(f"{server.url}/patients/")
        page.fill("input[name=q]", query)
        page.press("input[name=q]", "Enter")
        page.wait_for_load_state()
        page.steps(f"searched {query}")
        rows = page.locator("tbody tr").all_inner_texts()
        assert len(rows) == 1 and "Ğüneş-Ødegård" in rows[0], (query, rows)
