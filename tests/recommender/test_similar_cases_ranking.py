"""The ranking: reviewed cases only, by the hybrid score, the same order for the same data (ties
by id), with each case's confirmed label and the share of each label among the k."""

import pytest

from recommender import indexing
from recommender.selectors import similar_cases
from tests.factories import PatientFactory
from tests.recommender.cases import axis_vector, case, ids, near

pytestmark = pytest.mark.django_db


@pytest.fixture
def query(site, version):
    return case(patient=PatientFactory(site=site), vector=axis_vector(), version=version)


def reviewed(site, version, cosine, axis, label="anomaly", **extra):
    return case(patient=PatientFactory(site=site), vector=near(cosine, axis), version=version,
                review_label=label, **extra)  # fmt: skip


def test_cases_come_in_order_of_similarity_with_labels_and_shares(query, site, version, clinician):
    expected = [
        reviewed(site, version, 0.95, 10, "anomaly"),
        reviewed(site, version, 0.90, 11, "healthy"),
        reviewed(site, version, 0.85, 12, "anomaly"),
        reviewed(site, version, 0.80, 13, "anomaly"),
    ]
    waiting = case(patient=PatientFactory(site=site), vector=near(0.99, 14), version=version)
    indexing.rebuild_index(reason="test")

    result = similar_cases(diagnostic=query, user=clinician, k=10)

    assert ids(result) == [d.pk for d in expected]
    assert waiting.pk not in ids(result)  # not reviewed: no confirmed label to show
    first = result.cases[0]
    assert first.review_label == "anomaly" and first.label_display == "possible respiratory anomaly"
    assert first.similarity == pytest.approx(0.95, abs=1e-5)
    assert [s.text for s in result.shares] == [
        "3 of 4 similar confirmed cases: possible respiratory anomaly",
        "1 of 4 similar confirmed cases: likely healthy",
    ]


def test_k_limits_the_cases_and_the_shares_count_only_those(query, site, version, clinician):
    for i in range(6):
        reviewed(site, version, 0.9 - i / 50, 10 + i, "healthy" if i < 2 else "anomaly")
    indexing.rebuild_index(reason="test")

    result = similar_cases(diagnostic=query, user=clinician, k=3)

    assert len(result.cases) == 3
    assert [s.text for s in result.shares] == [
        "2 of 3 similar confirmed cases: likely healthy",
        "1 of 3 similar confirmed cases: possible respiratory anomaly",
    ]


def test_equal_scores_are_ordered_by_id_and_repeat_exactly(query, site, version, clinician):
    twins = [reviewed(site, version, 0.8, 20 + i) for i in range(5)]
    indexing.rebuild_index(reason="test")

    runs = [ids(similar_cases(diagnostic=query, user=clinician, k=5)) for _ in range(3)]

    assert runs[0] == sorted(d.pk for d in twins)
    assert runs[1] == runs[0] and runs[2] == runs[0]


def test_matching_symptoms_lift_a_slightly_less_similar_sound(site, version, clinician):
    symptoms = {"fever": True, "shortness_of_breath": True, "cough_days": 14}
    query = case(patient=PatientFactory(site=site), vector=axis_vector(), version=version,
                 symptoms=symptoms)  # fmt: skip
    unlike = reviewed(site, version, 0.90, 10, symptoms={"fever": False, "cough_days": 0})
    alike = reviewed(site, version, 0.88, 11, symptoms=symptoms)
    indexing.rebuild_index(reason="test")

    result = similar_cases(diagnostic=query, user=clinician, k=2)

    assert ids(result) == [alike.pk, unlike.pk]
    assert result.cases[0].metadata > result.cases[1].metadata


def test_only_recordings_of_the_same_kind_are_offered(query, site, version, clinician):
    breaths = [reviewed(site, version, 0.99 - i / 100, 10 + i, kind="breath") for i in range(12)]
    cough = reviewed(site, version, 0.5, 30)
    indexing.rebuild_index(reason="test")

    result = similar_cases(diagnostic=query, user=clinician, k=3)  # a cough

    assert ids(result) == [cough.pk]  # the search widened past a dozen nearer breaths
    from_a_breath = ids(similar_cases(diagnostic=breaths[0], user=clinician, k=20))
    assert sorted(from_a_breath) == sorted(b.pk for b in breaths[1:])  # the query's own kind


def test_the_search_widens_when_the_nearest_are_not_reviewed(query, site, version, clinician):
    for i in range(60):  # many nearer cases waiting for review push the reviewed ones far down
        case(
            patient=PatientFactory(site=site),
            vector=near(0.99 - i / 1000, 10 + i % 50),
            version=version,
        )
    far = [reviewed(site, version, 0.5 - i / 100, 5 + i % 4) for i in range(3)]
    indexing.rebuild_index(reason="test")

    assert ids(similar_cases(diagnostic=query, user=clinician, k=3)) == [d.pk for d in far]


def test_without_an_index_or_an_embedding_the_answer_says_why(query, site, version, clinician):
    assert similar_cases(diagnostic=query, user=clinician).unavailable == "no_index"

    indexing.rebuild_index(reason="test")
    unembedded = case(patient=PatientFactory(site=site), vector=axis_vector(), version=version)
    unembedded.embedding = None
    unembedded.save()

    assert similar_cases(diagnostic=unembedded, user=clinician).unavailable == "not_embedded"
