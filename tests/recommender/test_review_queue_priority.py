"""The review queue: waiting results ordered by how much a review would teach the model (model
uncertainty, disagreement with similar confirmed cases of the same site, waiting time), each
with its reasons, in one query per page."""

from datetime import timedelta

import pytest
from django.utils import timezone

from diagnostics.selectors import diagnostics_for
from recommender import indexing, priority
from recommender.models import ReviewPriority
from recommender.selectors import prioritised_review_queue, priority_page_ids
from tests.factories import PatientFactory
from tests.recommender.cases import axis_vector, case, near

pytestmark = pytest.mark.django_db


@pytest.fixture
def queue(site, other_site, version):
    def waiting(p_anomaly, days=0, where=site):
        return case(
            patient=PatientFactory(site=where), vector=axis_vector(), version=version,
            label="anomaly" if p_anomaly >= 0.5 else "healthy", p_anomaly=p_anomaly,
            queued_at=timezone.now() - timedelta(days=days, minutes=5),
        )  # fmt: skip

    for i in range(5):  # this site's confirmed cases near the waiting ones: all healthy
        case(patient=PatientFactory(site=site), vector=near(0.95, 10 + i), version=version,
             review_label="healthy")  # fmt: skip
    for i in range(8):  # another site's, nearer still: all anomalies (must not count here)
        case(patient=PatientFactory(site=other_site), vector=near(0.99, 20 + i),
             version=version, review_label="anomaly")  # fmt: skip
    cases = {
        "sure": waiting(0.05),
        "old": waiting(0.05, days=10),
        "disagreeing": waiting(0.95),
        "uncertain": waiting(0.45),
        "elsewhere": waiting(0.5, where=other_site),
    }
    indexing.rebuild_index(reason="test")
    priority.refresh_review_priorities()
    return cases


def test_the_queue_is_ordered_by_priority_with_reasons(queue, clinician):
    items = prioritised_review_queue(user=clinician)

    assert [item.diagnostic for item in items] == [
        queue["uncertain"], queue["disagreeing"], queue["old"], queue["sure"],
    ]  # fmt: skip
    assert [item.reasons for item in items] == [
        ["uncertain"], ["disagrees with similar cases"], ["waiting 10 days"],
        ["confident result, less than a day old"],
    ]  # fmt: skip
    assert [item.score for item in items] == sorted((item.score for item in items), reverse=True)


def test_disagreement_counts_only_the_same_sites_confirmed_cases(queue):
    sure = queue["sure"].review_priority
    assert sure.disagreement == 0.0 and sure.neighbour_labels == {"healthy": 5}
    assert queue["disagreeing"].review_priority.disagreement == 1.0
    assert queue["elsewhere"].review_priority.neighbour_labels == {"anomaly": 8}


def test_disagreement_counts_only_confirmed_recordings_of_the_same_kind(site, version):
    for i in range(5):  # the nearest confirmed cases are breaths, all anomalies
        case(patient=PatientFactory(site=site), vector=near(0.99, 10 + i), version=version,
             review_label="anomaly", kind="breath")  # fmt: skip
    for i in range(4):
        case(patient=PatientFactory(site=site), vector=near(0.9, 20 + i), version=version,
             review_label="healthy")  # fmt: skip
    cough = case(patient=PatientFactory(site=site), vector=axis_vector(), version=version,
                 label="healthy", p_anomaly=0.05)  # fmt: skip
    indexing.rebuild_index(reason="test")

    priority.refresh_review_priorities(diagnostic_ids=[cough.pk])

    stored = ReviewPriority.objects.get(diagnostic=cough)
    assert stored.neighbour_labels == {"healthy": 4} and stored.disagreement == 0.0


def test_every_waiting_result_has_a_reason_scored_or_not(site, version):
    now = timezone.now()
    unsure = case(patient=PatientFactory(site=site), vector=axis_vector(), version=version,
                  p_anomaly=0.55)  # fmt: skip
    sure = case(patient=PatientFactory(site=site), vector=axis_vector(), version=version)

    assert ReviewPriority.objects.count() == 0  # neither scored yet
    assert priority.reasons(None, unsure.queued_at, now, scores=unsure.scores) == ["uncertain"]
    assert priority.reasons(None, sure.queued_at, now, scores=sure.scores) == [
        "confident result, less than a day old"
    ]


def test_uncertainty_peaks_at_a_coin_toss():
    assert priority.uncertainty_of({"anomaly": 0.5, "healthy": 0.5}) == 1.0
    assert priority.uncertainty_of({"anomaly": 0.75}) == pytest.approx(0.5)
    assert priority.uncertainty_of({"anomaly": 1.0}) == 0.0
    # Without an anomaly score: normalised entropy.
    assert priority.uncertainty_of({"a": 0.5, "b": 0.5}) == pytest.approx(1.0)


def test_waiting_long_enough_outranks_anything(queue, clinician, version, site):
    forgotten = case(
        patient=PatientFactory(site=site), vector=axis_vector(), version=version,
        label="healthy", p_anomaly=0.01, queued_at=timezone.now() - timedelta(days=60),
    )  # fmt: skip
    priority.refresh_review_priorities(diagnostic_ids=[forgotten.pk])

    first = prioritised_review_queue(user=clinician)[0]

    assert first.diagnostic == forgotten and first.reasons == ["waiting 60 days"]


def test_a_result_not_scored_yet_comes_last_and_a_reviewed_one_leaves(
    queue, clinician, version, site
):
    fresh = case(patient=PatientFactory(site=site), vector=axis_vector(), version=version)
    queue["uncertain"].review_label = "anomaly"
    queue["uncertain"].reviewed_at = timezone.now()
    queue["uncertain"].save()

    ordered = [item.diagnostic for item in prioritised_review_queue(user=clinician)]

    assert ordered[-1] == fresh and queue["uncertain"] not in ordered


def test_the_other_sites_clinician_sees_only_their_result(queue, other_clinician):
    assert [i.diagnostic for i in prioritised_review_queue(user=other_clinician)] == [
        queue["elsewhere"]
    ]


def test_a_page_of_the_queue_is_two_queries(queue, clinician, django_assert_num_queries):
    with django_assert_num_queries(2):  # the page's ids in order, then its rows whole
        items = prioritised_review_queue(user=clinician, limit=25)
        assert all(item.reasons is not None for item in items)


def test_pages_walk_the_scored_half_then_the_unscored_half_both_ways(
    site, other_site, version, clinician, django_assert_num_queries
):
    """Scored results by rank (ties by id), then unscored ones oldest first, with a page edge
    inside each half and one on the seam; backwards from any cursor gives the same pages."""
    now = timezone.now()

    def waiting(minutes_ago, rank_key=None, where=site):
        diagnostic = case(
            patient=PatientFactory(site=where), vector=axis_vector(), version=version,
            queued_at=now - timedelta(minutes=minutes_ago),
        )  # fmt: skip
        if rank_key is not None:
            ReviewPriority.objects.create(
                diagnostic=diagnostic, uncertainty=0, base_score=0, rank_key=rank_key
            )
        return diagnostic

    high, tied_a, tied_b, low = waiting(1, 5.0), waiting(2, 3.0), waiting(3, 3.0), waiting(4, 1.0)
    old, new = waiting(30), waiting(10)
    waiting(20, 9.0, where=other_site)  # never seen here, scored or not
    waiting(40, where=other_site)
    reviewed = waiting(50, 8.0)
    reviewed.review_label, reviewed.reviewed_at = "healthy", now
    reviewed.save()
    expected = [high.pk, tied_a.pk, tied_b.pk, low.pk, old.pk, new.pk]
    visible = diagnostics_for(clinician)

    for size in (1, 2, 3, 4, 5, 6, 7):
        pages, cursor, more = [], None, True
        while more:
            with django_assert_num_queries(1):
                ids, more = priority_page_ids(visible, after=cursor, size=size)
            pages.append(ids)
            cursor = ids[-1] if ids else None
        assert [pk for page in pages for pk in page] == expected, size
        for page, previous in zip(pages[1:], pages, strict=False):
            assert priority_page_ids(visible, before=page[0], size=size) == (
                previous, previous is not pages[0]
            ), size  # fmt: skip

    # A cursor reviewed since still marks its place; one out of reach matches nothing.
    tied_a.review_label, tied_a.reviewed_at = "anomaly", now
    tied_a.save()
    assert priority_page_ids(visible, after=tied_a.pk, size=2) == ([tied_b.pk, low.pk], True)
    outside = waiting(5, 4.0, where=other_site)
    assert priority_page_ids(visible, after=outside.pk, size=2) == ([], False)
    assert priority_page_ids(visible, before=outside.pk, size=2) == ([], False)
