"""``GET /api/v1/diagnostics/{id}/similar/`` and the feedback route: the answer's shape, and the
API's error shape for a diagnostic out of reach (404), a bad k or kind (400) and no sign-in (401)."""

import pytest
from rest_framework.test import APIClient

from portal.core.models import AuditEvent
from recommender import indexing
from recommender.models import Interaction
from tests.factories import PatientFactory
from tests.recommender.cases import axis_vector, case, near

pytestmark = pytest.mark.django_db


@pytest.fixture
def data(site, other_site, version):
    query = case(patient=PatientFactory(site=site), vector=axis_vector(), version=version)
    mine = [
        case(patient=PatientFactory(site=site), vector=near(0.9 - i / 10, 10 + i),
             version=version, review_label=label)
        for i, label in enumerate(["anomaly", "anomaly", "healthy"])
    ]  # fmt: skip
    foreign = case(patient=PatientFactory(site=other_site), vector=near(0.99, 20),
                   version=version, review_label="anomaly")  # fmt: skip
    indexing.rebuild_index(reason="test")
    return query, mine, foreign


def similar(api, pk, **params):
    return api.get(f"/api/v1/diagnostics/{pk}/similar/", params)


def feedback(api, pk, other, kind="marked_similar"):
    return api.post(f"/api/v1/diagnostics/{pk}/similar/{other}/feedback/", {"kind": kind},
                    content_type="application/json")  # fmt: skip


def test_the_answer_lists_cases_labels_and_shares(api, data):
    query, mine, _ = data

    response = similar(api, query.pk, k=2)

    assert response.status_code == 200
    body = response.json()
    assert body["diagnostic"] == query.pk and body["k"] == 2 and body["available"] is True
    assert [c["id"] for c in body["cases"]] == [mine[0].pk, mine[1].pk]
    assert body["cases"][0] == {
        "id": mine[0].pk, "review_label": "anomaly",
        "label_display": "possible respiratory anomaly", "similarity": 0.9,
        "score": body["cases"][0]["score"],
    }  # fmt: skip
    assert body["label_shares"] == [{
        "label": "anomaly", "display": "possible respiratory anomaly", "count": 2, "of": 2,
        "text": "2 of 2 similar confirmed cases: possible respiratory anomaly",
    }]  # fmt: skip
    event = AuditEvent.objects.get(action="diagnostic.similar_cases_viewed")
    assert event.detail == {"k": 2, "cases": [mine[0].pk, mine[1].pk]}


def test_k_defaults_to_ten(api, data):
    query, mine, _ = data
    body = similar(api, query.pk).json()
    assert body["k"] == 10 and len(body["cases"]) == len(mine)


@pytest.mark.parametrize("k", ["0", "51", "-3", "ten", "2.5", ""])
def test_a_k_outside_one_to_fifty_is_a_400_in_the_error_shape(api, data, k):
    query, _, _ = data

    response = similar(api, query.pk, k=k)

    assert response.status_code == 400
    assert response.json() == {
        "error": {"code": "invalid", "message": "k must be a whole number from 1 to 50."}
    }


def test_another_sites_diagnostic_is_a_404_like_one_that_does_not_exist(api, data):
    _, _, foreign = data
    for pk in (foreign.pk, 999_999):
        response = similar(api, pk)
        assert response.status_code == 404
        assert response.json() == {
            "error": {"code": "not_found", "message": "Diagnostic not found."}
        }


def test_signing_in_is_required(data):
    query, _, _ = data
    response = APIClient().get(f"/api/v1/diagnostics/{query.pk}/similar/")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


def test_feedback_is_recorded_and_answered_201(api, data, clinician):
    query, mine, _ = data

    response = feedback(api, query.pk, mine[2].pk, "dismissed")

    assert response.status_code == 201
    body = response.json()
    assert (body["kind"], body["diagnostic"], body["similar_case"]) == (
        "dismissed", query.pk, mine[2].pk,
    )  # fmt: skip
    interaction = Interaction.objects.get()
    assert (interaction.user, interaction.source_id, interaction.diagnostic_id) == (
        clinician, query.pk, mine[2].pk,
    )  # fmt: skip


def test_feedback_about_another_sites_case_is_a_404_and_records_nothing(api, data):
    query, _, foreign = data

    response = feedback(api, query.pk, foreign.pk)

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert not Interaction.objects.exists()


@pytest.mark.parametrize("kind", ["viewed", "similar", ""])
def test_feedback_of_an_unknown_kind_is_a_400(api, data, kind):
    query, mine, _ = data

    response = feedback(api, query.pk, mine[0].pk, kind)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"
    assert not Interaction.objects.exists()


def test_feedback_on_the_case_itself_is_a_400(api, data):
    query, _, _ = data
    response = feedback(api, query.pk, query.pk)
    assert response.status_code == 400
    assert response.json() == {
        "error": {"code": "invalid", "message": "A case cannot be compared with itself."}
    }
