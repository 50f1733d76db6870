"""A patient's own other recordings are not "similar cases": they would only echo the result."""

import pytest

from recommender import indexing
from recommender.selectors import similar_cases
from tests.factories import PatientFactory
from tests.recommender.cases import axis_vector, case, ids, near

pytestmark = pytest.mark.django_db


def test_the_same_patients_reviewed_cases_are_left_out(site, clinician, version):
    patient = PatientFactory(site=site)
    query = case(patient=patient, vector=axis_vector(), version=version)
    own = [
        case(patient=patient, vector=near(0.99, 5), version=version, review_label="anomaly"),
        case(patient=patient, vector=near(0.98, 6), version=version, review_label="anomaly"),
    ]
    others = [
        case(patient=PatientFactory(site=site), vector=near(0.7, 7 + i), version=version,
             review_label="healthy")
        for i in range(3)
    ]  # fmt: skip
    indexing.rebuild_index(reason="test")

    result = similar_cases(diagnostic=query, user=clinician, k=5)

    assert ids(result) == [d.pk for d in others]
    assert not set(ids(result)) & {d.pk for d in own}


def test_the_query_itself_never_appears_even_once_reviewed(site, clinician, version):
    query = case(patient=PatientFactory(site=site), vector=axis_vector(), version=version,
                 review_label="anomaly")  # fmt: skip
    other = case(patient=PatientFactory(site=site), vector=near(0.5, 3), version=version,
                 review_label="healthy")  # fmt: skip
    indexing.rebuild_index(reason="test")

    assert ids(similar_cases(diagnostic=query, user=clinician, k=5)) == [other.pk]
