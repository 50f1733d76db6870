"""Clinicians' co-interactions re-rank similar cases: "mark as similar" lifts a case, "not
similar" lowers it, and cases viewed from this one count a little; each user counts once."""

from datetime import timedelta

import pytest
from django.utils import timezone

from recommender import indexing, services
from recommender.models import Interaction, InteractionKind
from recommender.selectors import similar_cases
from tests.factories import MembershipFactory, PatientFactory, UserFactory
from tests.recommender.cases import axis_vector, case, ids, near

pytestmark = pytest.mark.django_db


@pytest.fixture
def cases(site, version):
    query = case(patient=PatientFactory(site=site), vector=axis_vector(), version=version)
    first, second, third = (
        case(patient=PatientFactory(site=site), vector=near(cos, 10 + i), version=version,
             review_label="anomaly")
        for i, cos in enumerate((0.92, 0.90, 0.88))
    )  # fmt: skip
    indexing.rebuild_index(reason="test")
    return query, first, second, third


def colleague(site):
    user = UserFactory()
    MembershipFactory(user=user, site=site)
    return user


def test_marking_a_case_similar_lifts_it(cases, clinician):
    query, first, second, third = cases
    assert ids(similar_cases(diagnostic=query, user=clinician, k=3)) == [
        first.pk, second.pk, third.pk,
    ]  # fmt: skip

    services.record_feedback(
        actor=clinician, diagnostic=query, other=third, kind=InteractionKind.MARKED_SIMILAR
    )

    assert ids(similar_cases(diagnostic=query, user=clinician, k=3)) == [
        third.pk, first.pk, second.pk,
    ]  # fmt: skip


def test_dismissing_a_case_lowers_it(cases, clinician):
    query, first, second, third = cases

    services.record_feedback(
        actor=clinician, diagnostic=query, other=first, kind=InteractionKind.DISMISSED
    )

    assert ids(similar_cases(diagnostic=query, user=clinician, k=3)) == [
        second.pk, third.pk, first.pk,
    ]  # fmt: skip


def test_co_views_count_from_either_side_and_once_per_user(cases, clinician, site):
    query, first, second, third = cases
    # Two colleagues went from this case to the third, or from the third to this one; one
    # colleague opened the second from this one on five different days.
    services.record_view(user=colleague(site), diagnostic=third, source=query)
    services.record_view(user=colleague(site), diagnostic=query, source=third)
    again = colleague(site)
    for day in range(5):
        Interaction.objects.create(
            user=again, diagnostic=second, source=query, kind=InteractionKind.VIEWED,
            at=timezone.now() - timedelta(days=day),
        )  # fmt: skip

    order = ids(similar_cases(diagnostic=query, user=clinician, k=3))

    # One co-view each lifts the second past the first; the third's two users lift it more
    # than the second's one user's five views.
    assert order == [third.pk, second.pk, first.pk]


def test_a_case_marked_similar_joins_though_the_embedding_search_missed_it(
    cases, clinician, site, version
):
    query, *_ = cases
    distant = case(patient=PatientFactory(site=site), vector=near(0.45, 40), version=version,
                   review_label="healthy")  # fmt: skip
    for i in range(30):  # nearer reviewed cases fill the raw neighbours the search fetches
        case(patient=PatientFactory(site=site), vector=near(0.5, 41 + i % 20), version=version,
             review_label="healthy")  # fmt: skip
    indexing.rebuild_index(reason="more cases")
    assert distant.pk not in ids(similar_cases(diagnostic=query, user=clinician, k=4))

    services.record_feedback(
        actor=clinician, diagnostic=query, other=distant, kind=InteractionKind.MARKED_SIMILAR
    )

    assert ids(similar_cases(diagnostic=query, user=clinician, k=4))[3] == distant.pk
