"""What the diagnostic page's similar-cases panel gets: reviewed diagnostics with their
similarity and links, the label shares, or why there is nothing yet; in a few queries."""

import pytest
from django.template.loader import render_to_string

from recommender import indexing
from recommender.panel import panel_context
from recommender.services import record_feedback
from tests.factories import PatientFactory, UserFactory
from tests.recommender.cases import axis_vector, case, near

pytestmark = pytest.mark.django_db


@pytest.fixture
def query(site, version):
    return case(patient=PatientFactory(site=site), vector=axis_vector(), version=version)


def test_the_panel_gets_diagnostics_with_similarity_links_and_shares(
    site, version, clinician, django_assert_max_num_queries
):
    query = case(patient=PatientFactory(site=site), vector=axis_vector(), version=version,
                 kind="breath")  # fmt: skip
    case(patient=PatientFactory(site=site), vector=near(0.99, 20), version=version,
         review_label="healthy")  # the nearest, but a cough: not beside a breath  # fmt: skip
    similar = [
        case(patient=PatientFactory(site=site), vector=near(0.9 - i / 10, 10 + i),
             version=version, review_label=label, kind="breath")
        for i, label in enumerate(["anomaly", "healthy", "anomaly"])
    ]  # fmt: skip
    indexing.rebuild_index(reason="test")
    panel_context(diagnostic=query, user=clinician)  # the process loads the index once

    with django_assert_max_num_queries(7):
        context = panel_context(diagnostic=query, user=clinician)
        cases = context["similar_cases"]
        kinds = [c.recording.get_kind_display() for c in cases]

    assert cases == similar and kinds == ["Breathing"] * 3
    first = cases[0]
    assert first.similarity == pytest.approx(0.9) and first.similarity_percent == 90
    assert first.label_display == "possible respiratory anomaly"
    assert first.view_url == f"/diagnostics/{first.pk}/?from={query.pk}"
    assert first.feedback_url == f"/api/v1/diagnostics/{query.pk}/similar/{first.pk}/feedback/"
    assert context["similar_summary"] == (
        "2 of 3 similar confirmed cases: possible respiratory anomaly"
    )
    assert [s["count"] for s in context["similar_shares"]] == [2, 1]
    assert [c.feedback for c in cases] == ["", "", ""]
    assert context["similar_unavailable"] == "" and context["similar_source"] == query.pk
    html = render_to_string("diagnostics/_similar_cases.html", context)
    assert f"/diagnostics/{first.pk}/" in html


def test_without_an_index_the_panel_is_empty_and_says_why(query, clinician):
    context = panel_context(diagnostic=query, user=clinician)

    assert context["similar_cases"] == [] and context["similar_shares"] == []
    assert context["similar_unavailable"] == "no_index" and context["similar_summary"] == ""


def test_the_panel_shows_the_users_latest_feedback_on_each_case(query, site, version, clinician):
    similar = [
        case(patient=PatientFactory(site=site), vector=near(0.9 - i / 10, 10 + i),
             version=version, review_label="anomaly")
        for i in range(3)
    ]  # fmt: skip
    indexing.rebuild_index(reason="test")
    record_feedback(actor=clinician, diagnostic=query, other=similar[0], kind="dismissed")
    record_feedback(actor=clinician, diagnostic=query, other=similar[0], kind="marked_similar")
    record_feedback(actor=clinician, diagnostic=query, other=similar[1], kind="dismissed")
    record_feedback(actor=UserFactory(), diagnostic=query, other=similar[2], kind="dismissed")

    context = panel_context(diagnostic=query, user=clinician)

    feedback = {c.pk: c.feedback for c in context["similar_cases"]}
    assert feedback == {similar[0].pk: "marked_similar", similar[1].pk: "dismissed",
                        similar[2].pk: ""}  # fmt: skip
    html = render_to_string("diagnostics/_similar_cases.html", context)
    assert html.count('aria-pressed="true"') == 2
