"""Only patients who consent to research *now* are exported; withdrawing consent removes them."""

import pytest

from portal.core import services
from portal.core.models import ResearchPseudonym
from tests.api.research_data import export, rows_of, seed_cohort

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("fmt", ["csv", "ndjson", "parquet"])
def test_patients_who_never_consented_are_absent_and_get_no_pseudonym(researcher_api, site, fmt):
    cohort = seed_cohort(site)

    rows = rows_of(fmt, export(researcher_api, fmt)[1])

    exported = {row["patient_id"] for row in rows}
    consenting = set(
        ResearchPseudonym.objects.filter(patient__in=cohort.consenting).values_list(
            "value", flat=True
        )
    )
    assert exported == consenting and len(consenting) == 2
    assert not ResearchPseudonym.objects.filter(patient__in=cohort.refusing).exists()


def test_a_withdrawn_consent_removes_the_patient_from_every_later_export(
    researcher_api, site, clinician
):
    cohort = seed_cohort(site)
    leaving = cohort.consenting[0]
    before = rows_of("csv", export(researcher_api, "csv")[1])

    services.update_patient(patient=leaving, actor=clinician, research_consent=False)
    after = {fmt: rows_of(fmt, export(researcher_api, fmt)[1]) for fmt in ("csv", "parquet")}

    pseudonym = ResearchPseudonym.objects.get(patient=leaving).value
    assert pseudonym in {row["patient_id"] for row in before}
    for rows in after.values():
        assert pseudonym not in {row["patient_id"] for row in rows}
        assert len(rows) == len(before) - 1


def test_consenting_again_brings_back_the_same_pseudonym(researcher_api, site, clinician):
    patient = seed_cohort(site).consenting[0]
    first = {row["patient_id"] for row in rows_of("csv", export(researcher_api)[1])}

    services.update_patient(patient=patient, actor=clinician, research_consent=False)
    services.update_patient(patient=patient, actor=clinician, research_consent=True)
    again = {row["patient_id"] for row in rows_of("csv", export(researcher_api)[1])}

    assert first == again
