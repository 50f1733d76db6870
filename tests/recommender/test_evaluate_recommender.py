"""``manage.py evaluate_recommender``: leave-one-out precision@k and coverage for the hybrid,
embedding-only, metadata-only and random rankings, stored and shown read-only in the admin."""

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from recommender.evaluation import EvaluationSet, evaluate
from recommender.models import RecommenderEvaluation
from tests.factories import PatientFactory, verified_login
from tests.recommender.cases import case, near

pytestmark = pytest.mark.django_db


@pytest.fixture
def reviewed(site, version):
    # Two tight clusters, one per label: embeddings separate the labels perfectly.
    for i in range(12):
        label = "anomaly" if i % 2 else "healthy"
        axis = 1 if label == "anomaly" else 2
        vector = near(0.2, 10 + i) * 0.1 + np.eye(64, dtype=np.float32)[axis]
        case(patient=PatientFactory(site=site), vector=vector / np.linalg.norm(vector),
             version=version, review_label=label)  # fmt: skip


def test_the_evaluation_is_printed_and_stored(reviewed, version, capsys):
    call_command("evaluate_recommender", "--k", "3")

    out = capsys.readouterr().out
    assert "12 reviewed cases, 12 leave-one-out queries, k=3" in out
    assert "| ranking | precision@3 | coverage | queries answered in full |" in out
    stored = RecommenderEvaluation.objects.get()
    assert (stored.data, stored.k, stored.cases, stored.model_version) == (
        "reviewed", 3, 12, version,
    )  # fmt: skip
    assert set(stored.results) == {"hybrid", "embedding", "metadata", "random"}
    assert stored.results["embedding"]["precision"] == 1.0
    assert stored.results["hybrid"]["precision"] == 1.0
    assert stored.results["hybrid"]["answered"] == 1.0


def test_without_a_production_model_there_is_nothing_to_evaluate(db):
    with pytest.raises(CommandError, match="No production model"):
        call_command("evaluate_recommender")


def test_leave_one_out_never_recommends_the_same_patient():
    vectors = np.eye(64, dtype=np.float32)[[1, 1, 2, 2]]
    data = EvaluationSet(
        ids=np.arange(4), labels=np.array(["anomaly", "anomaly", "healthy", "healthy"]),
        patients=np.array([7, 7, 8, 9]), vectors=vectors, terms=[frozenset()] * 4,
    )  # fmt: skip

    results = evaluate(data, k=1)

    # Case 0's twin belongs to the same patient: its best other-patient case is a healthy one.
    assert results["embedding"]["precision"] == pytest.approx((0 + 0 + 1 + 1) / 4)


def test_the_admin_shows_evaluations_as_a_readable_table(reviewed, client, admin_user):
    verified_login(client, admin_user)
    admin_client = client
    call_command("evaluate_recommender", "--k", "3")
    evaluation = RecommenderEvaluation.objects.get()

    listing = admin_client.get("/admin/recommender/recommenderevaluation/")
    page = admin_client.get(f"/admin/recommender/recommenderevaluation/{evaluation.pk}/change/")

    assert listing.status_code == 200 and "Hybrid P@k" in listing.content.decode()
    html = page.content.decode()
    assert page.status_code == 200
    assert "<th>precision@3</th>" in html and "<th scope='row'>hybrid</th>" in html
    assert 'name="_save"' not in html  # read-only
