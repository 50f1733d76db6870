"""Research pseudonyms are random, kept in their own tables, made on first export, stable after."""

import hashlib

import pytest
from django.utils import timezone

from media_assets.models import RecordingPseudonym
from portal.core.models import ResearchPseudonym, Role
from tests.api.research_data import export, rows_of, seed_cohort
from tests.factories import MembershipFactory, PatientFactory
from tests.factories_clinical import RecordingFactory, succeeded

pytestmark = pytest.mark.django_db


def ids(rows) -> list[tuple[str, str]]:
    return sorted((row["patient_id"], row["recording_id"]) for row in rows)


def test_no_pseudonym_exists_before_the_first_export(researcher_api, site):
    seed_cohort(site)

    assert not ResearchPseudonym.objects.exists() and not RecordingPseudonym.objects.exists()
    export(researcher_api)

    assert ResearchPseudonym.objects.count() == 2 and RecordingPseudonym.objects.count() == 2


def test_pseudonyms_are_stable_across_exports_and_formats(researcher_api, site):
    seed_cohort(site)

    exports = [rows_of(fmt, export(researcher_api, fmt)[1]) for fmt in ("csv", "ndjson", "parquet")]
    exports.append(rows_of("csv", export(researcher_api, "csv")[1]))

    assert all(ids(rows) == ids(exports[0]) for rows in exports)
    assert len(set(ids(exports[0]))) == 2


def _derivations(*values) -> set[str]:
    out = set()
    for value in values:
        raw = str(value).encode()
        out.add(str(value))
        for algorithm in ("md5", "sha1", "sha256", "blake2b"):
            out.add(hashlib.new(algorithm, raw).hexdigest())
    return out


def test_pseudonyms_are_not_derived_from_any_identifier(researcher_api, site):
    cohort = seed_cohort(site)
    export(researcher_api)

    for patient in cohort.consenting:
        value = ResearchPseudonym.objects.get(patient=patient).value
        derived = _derivations(
            patient.pk, patient.external_id, patient.given_name, patient.family_name,
            patient.birth_date.isoformat(), f"{patient.site.code}:{patient.external_id}",
        )  # fmt: skip
        assert not any(d.startswith(value) or value in d for d in derived)
        assert str(patient.pk) != value and patient.external_id not in value


def test_a_pseudonym_cannot_be_recomputed_made_again_it_comes_out_different(researcher_api, site):
    seed_cohort(site)
    first = ids(rows_of("csv", export(researcher_api)[1]))

    # Were the values a function of the person or the record, making them again would repeat them.
    ResearchPseudonym.objects.all().delete()
    RecordingPseudonym.objects.all().delete()
    second = ids(rows_of("csv", export(researcher_api)[1]))

    assert len(first) == len(second) == 2
    assert {v for pair in first for v in pair}.isdisjoint({v for pair in second for v in pair})


def test_two_patients_with_identical_details_get_different_pseudonyms(
    researcher, researcher_api, site, other_site
):
    MembershipFactory(user=researcher, site=other_site, role=Role.RESEARCHER)
    details = {"given_name": "Ana", "family_name": "Twin", "birth_date": "1990-01-01",
               "external_id": "SAME-1", "research_consent": True}  # fmt: skip
    for patient_site in (site, other_site):
        patient = PatientFactory(site=patient_site, research_consent_at=timezone.now(), **details)
        succeeded(recording=RecordingFactory(patient=patient))

    rows = rows_of("csv", export(researcher_api)[1])

    assert len(rows) == 2
    assert rows[0]["patient_id"] != rows[1]["patient_id"]
