"""Similar cases never include a case the user may not see: not another site's, even when it is
the nearest raw neighbour in the index, and not one whose patient moved away after the build."""

import pytest

from recommender import indexing
from recommender.live import live_index
from recommender.selectors import similar_cases
from tests.factories import PatientFactory
from tests.recommender.cases import axis_vector, case, ids, near

pytestmark = pytest.mark.django_db


@pytest.fixture(params=["flat", "ivf", "hnsw"])
def index_kind(request, settings):
    """Each test runs on the exact index and, forced by a tiny threshold, on both approximate."""
    if request.param != "flat":
        settings.RECOMMENDER_EXACT_MAX = 10
        settings.RECOMMENDER_ANN = request.param
    return request.param


@pytest.fixture
def two_sites(index_kind, site, other_site, version):
    query = case(patient=PatientFactory(site=site), vector=axis_vector(), version=version)
    mine = [
        case(patient=PatientFactory(site=site), vector=near(0.80 - i / 100, 10 + i),
             version=version, review_label="healthy")
        for i in range(5)
    ]  # fmt: skip
    theirs = [
        case(patient=PatientFactory(site=other_site), vector=near(0.99 - i / 100, 30 + i),
             version=version, review_label="anomaly")
        for i in range(8)
    ]  # fmt: skip
    build = indexing.rebuild_index(reason="test")
    assert build.kind == index_kind
    return query, mine, theirs


def test_another_sites_cases_never_appear_though_they_are_the_nearest_raw_neighbours(
    two_sites, clinician
):
    query, mine, theirs = two_sites
    raw = live_index.state().search(axis_vector(), 9).ids.tolist()
    assert set(raw[1:9]) == {d.pk for d in theirs}  # the index's raw nearest are all theirs

    result = similar_cases(diagnostic=query, user=clinician, k=10)

    assert ids(result) == [d.pk for d in mine]
    assert result.shares[0].text == "5 of 5 similar confirmed cases: likely healthy"


def test_the_other_site_sees_only_its_own_cases(two_sites, other_clinician, other_site, version):
    _, _, theirs = two_sites
    their_query = case(
        patient=PatientFactory(site=other_site), vector=axis_vector(), version=version
    )

    result = similar_cases(diagnostic=their_query, user=other_clinician, k=5)

    assert ids(result) == [d.pk for d in theirs[:5]]


def test_a_patient_moved_to_another_site_after_the_build_is_filtered_out(
    two_sites, clinician, other_site
):
    query, mine, _ = two_sites
    moved = mine[0].patient
    moved.site = other_site
    moved.save()  # the index still files this case under the clinician's site

    result = similar_cases(diagnostic=query, user=clinician, k=10)

    assert mine[0].pk not in ids(result)
    assert ids(result) == [d.pk for d in mine[1:]]


def test_an_administrator_reaches_every_site(two_sites, django_user_model):
    query, mine, theirs = two_sites
    admin = django_user_model.objects.create_superuser("root", password="a-long-test-password")

    result = similar_cases(diagnostic=query, user=admin, k=13)

    assert set(ids(result)) == {d.pk for d in mine + theirs}


def test_a_user_without_a_site_gets_nothing(two_sites, django_user_model):
    query, _, _ = two_sites
    stranger = django_user_model.objects.create_user("nobody", password="a-long-test-password")

    assert similar_cases(diagnostic=query, user=stranger, k=10).cases == []
