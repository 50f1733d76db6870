"""The recommender in the clinician's pages: the similar-cases panel beside a result (with its
"Similar" / "Not similar" buttons and co-view tracking) and the review queue in priority order."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from recommender import indexing, priority
from recommender.models import Interaction, InteractionKind
from tests.factories import PatientFactory
from tests.portal.page_helpers import events, text_of
from tests.recommender.cases import axis_vector, case, near

pytestmark = pytest.mark.django_db


@pytest.fixture
def panel(site, other_site, version):
    query = case(patient=PatientFactory(site=site), vector=axis_vector(), version=version)
    similar = [
        case(patient=PatientFactory(site=site), vector=near(0.95 - i / 10, 10 + i),
             version=version, review_label=label)
        for i, label in enumerate(["anomaly", "anomaly", "healthy"])
    ]  # fmt: skip
    hidden = case(patient=PatientFactory(site=other_site), vector=near(0.99, 30),
                  version=version, review_label="healthy")  # fmt: skip
    indexing.rebuild_index(reason="test")
    return query, similar, hidden


def case_ids(response) -> list[int]:
    return [int(pk) for pk in re.findall(r'data-similar-case="(\d+)"', response.content.decode())]


def test_the_result_page_lists_similar_confirmed_cases_of_the_users_sites(signed_in, panel):
    query, similar, _ = panel

    response = signed_in.get(f"/diagnostics/{query.pk}/")

    assert response.status_code == 200
    assert case_ids(response) == [d.pk for d in similar]  # best first, the other site's left out
    page = text_of(response)
    assert "2 of 3 similar confirmed cases: possible respiratory anomaly" in page
    assert "95% similar" in page
    assert f'href="/diagnostics/{similar[0].pk}/?from={query.pk}"' in response.content.decode()


def test_following_a_similar_case_records_a_co_view(signed_in, panel, clinician):
    query, similar, _ = panel

    signed_in.get(f"/diagnostics/{similar[1].pk}/?from={query.pk}")
    signed_in.get(f"/diagnostics/{similar[1].pk}/?from={query.pk}")  # a reload is the same view

    views = Interaction.objects.filter(kind=InteractionKind.VIEWED, diagnostic=similar[1])
    assert [(v.user, v.source) for v in views] == [(clinician, query)]


def test_a_source_the_user_may_not_see_is_dropped_from_the_view(signed_in, panel):
    _, similar, hidden = panel

    assert signed_in.get(f"/diagnostics/{similar[0].pk}/?from={hidden.pk}").status_code == 200
    assert signed_in.get(f"/diagnostics/{similar[0].pk}/?from=abc").status_code == 200

    sources = Interaction.objects.filter(diagnostic=similar[0]).values_list("source", flat=True)
    assert list(sources) == [None]


def test_marking_a_case_similar_records_it_and_moves_it_up(signed_in, panel, clinician):
    query, similar, _ = panel
    url = f"/diagnostics/{query.pk}/similar/{similar[2].pk}/feedback/"

    response = signed_in.post(url, {"kind": "marked_similar"})

    assert response.status_code == 302
    assert response["Location"] == f"/diagnostics/{query.pk}/#similar-title"
    interaction = Interaction.objects.get(kind=InteractionKind.MARKED_SIMILAR)
    assert (interaction.user, interaction.source, interaction.diagnostic) == (
        clinician, query, similar[2],
    )  # fmt: skip
    [event] = events("similar_case.feedback")
    assert event.patient_id == similar[2].patient_id
    page = signed_in.get(f"/diagnostics/{query.pk}/")
    assert "Marked as similar" in text_of(page)
    assert case_ids(page).index(similar[2].pk) < 2  # the co-interaction lifted it


def test_not_similar_moves_a_case_down(signed_in, panel):
    query, similar, _ = panel

    signed_in.post(f"/diagnostics/{query.pk}/similar/{similar[0].pk}/feedback/",
                   {"kind": "dismissed"})  # fmt: skip

    assert case_ids(signed_in.get(f"/diagnostics/{query.pk}/"))[0] != similar[0].pk


def test_feedback_with_an_unknown_kind_is_refused_with_a_message(signed_in, panel):
    query, similar, _ = panel

    response = signed_in.post(
        f"/diagnostics/{query.pk}/similar/{similar[0].pk}/feedback/", {"kind": "loved"}, follow=True
    )

    assert "kind must be marked_similar or dismissed" in text_of(response)
    assert not Interaction.objects.exclude(kind=InteractionKind.VIEWED).exists()


def test_feedback_on_another_sites_case_is_not_found(signed_in, panel):
    query, _, hidden = panel

    response = signed_in.post(f"/diagnostics/{query.pk}/similar/{hidden.pk}/feedback/",
                              {"kind": "marked_similar"})  # fmt: skip

    assert response.status_code == 404
    assert not Interaction.objects.exclude(kind=InteractionKind.VIEWED).exists()


def test_without_an_index_the_panel_says_it_is_being_built(signed_in, site, version):
    query = case(patient=PatientFactory(site=site), vector=axis_vector(), version=version)

    page = text_of(signed_in.get(f"/diagnostics/{query.pk}/"))

    assert "the case index is still being built" in page


@pytest.fixture
def waiting(site, version):
    for i in range(4):  # this site's confirmed cases near the waiting ones: all healthy
        case(patient=PatientFactory(site=site), vector=near(0.95, 10 + i), version=version,
             review_label="healthy")  # fmt: skip

    def waiting_case(p_anomaly, days):
        return case(
            patient=PatientFactory(site=site), vector=axis_vector(), version=version,
            label="anomaly" if p_anomaly >= 0.5 else "healthy", p_anomaly=p_anomaly,
            queued_at=timezone.now() - timedelta(days=days, minutes=5),
        )  # fmt: skip

    cases = {
        "sure_old": waiting_case(0.05, days=3),
        "uncertain": waiting_case(0.45, days=1),
        "disagreeing": waiting_case(0.97, days=2),
    }
    indexing.rebuild_index(reason="test")
    priority.refresh_review_priorities()
    cases["unscored"] = waiting_case(0.2, days=5)  # analysed moments ago, not yet scored
    return cases


def queue_ids(response) -> list[int]:
    return [int(pk) for pk in re.findall(r'id="review-(\d+)"', response.content.decode())]


def test_the_review_queue_puts_the_most_useful_reviews_first_and_says_why(signed_in, waiting):
    response = signed_in.get("/review/")

    assert queue_ids(response) == [
        waiting[name].pk for name in ("uncertain", "disagreeing", "sure_old", "unscored")
    ]
    page = text_of(response)
    assert "uncertain" in page and "disagrees with similar cases" in page
    assert "waiting 3 days" in page


def test_the_review_queue_can_still_be_read_oldest_first(signed_in, waiting):
    response = signed_in.get("/review/?order=oldest")

    assert queue_ids(response) == [
        waiting[name].pk for name in ("unscored", "sure_old", "disagreeing", "uncertain")
    ]
    assert signed_in.get("/review/?order=nonsense").status_code == 200  # the default instead


def test_the_priority_queue_pages_without_repeating_or_skipping(signed_in, site, version, settings):
    import portal.pages.selectors

    for i in range(7):
        case(patient=PatientFactory(site=site), vector=axis_vector(), version=version,
             p_anomaly=0.5 + i / 20, queued_at=timezone.now() - timedelta(hours=i))  # fmt: skip
    indexing.rebuild_index(reason="test")
    priority.refresh_review_priorities()
    case(patient=PatientFactory(site=site), vector=axis_vector(), version=version)  # unscored
    original, portal.pages.selectors.PAGE_SIZE = portal.pages.selectors.PAGE_SIZE, 3
    try:
        seen, url = [], "/review/"
        while url:
            response = signed_in.get(url)
            seen += queue_ids(response)
            found = re.search(r'rel="next" href="([^"]+)"', response.content.decode())
            url = found and "/review/" + found.group(1).replace("&amp;", "&")
        previous = re.search(r'rel="prev" href="([^"]+)"', response.content.decode()).group(1)
        back = queue_ids(signed_in.get("/review/" + previous.replace("&amp;", "&")))
    finally:
        portal.pages.selectors.PAGE_SIZE = original

    assert len(seen) == 8 and len(set(seen)) == 8
    assert back == seen[3:6]
