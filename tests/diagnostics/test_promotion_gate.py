"""The promotion gate: on the candidate's held-out patients, a candidate worse than production
(a model with its labels swapped: every score inverted) is refused, in the registry and in the
admin, unless an administrator writes a reason (audited); a better one is promoted. Real
TensorFlow, tiny runs on SYNTHETIC sounds."""

import pytest

from diagnostics import registry, training_worker
from diagnostics.models import ModelStatus
from portal.core.models import AuditEvent
from tests.diagnostics.training_cases import inverted_candidate, trained_candidate
from tests.factories import UserFactory, verified_login

pytestmark = pytest.mark.django_db


@pytest.fixture
def trained(site, clinician):
    return trained_candidate(site=site, reviewer=clinician)


@pytest.fixture
def inverted(trained, tmp_path):
    return inverted_candidate(trained, tmp_path)


@pytest.fixture
def administrator(client):
    user = UserFactory(username="root", is_staff=True, is_superuser=True)
    verified_login(client, user)
    return user


def test_gate_accepts_a_better_candidate_refuses_a_worse_one_unless_overridden(trained, inverted):
    registry.promote(version=inverted)  # the worse model serves
    better = trained.model_version
    assert not registry.gate_decision(better)[0]  # compared when there was no production: stale

    assert training_worker.compare_with_production(version=better)["decision"]["passed"]
    registry.promote_through_gate(version=better, actor=None)

    better.refresh_from_db()
    assert better.status == ModelStatus.PRODUCTION
    assert AuditEvent.objects.get(action="model.promoted").detail["gate_passed"]

    comparison = training_worker.compare_with_production(version=inverted)

    assert not comparison["decision"]["passed"]
    assert comparison["cases"] == len(inverted.evaluation["evaluation_set"])
    assert comparison["candidate"]["roc_auc"] < comparison["production_evaluation"]["roc_auc"]
    with pytest.raises(registry.PromotionRefused) as refused:
        registry.promote_through_gate(version=inverted, actor=None)
    assert any(reason.startswith("AUC") for reason in refused.value.reasons)
    better.refresh_from_db()
    assert better.status == ModelStatus.PRODUCTION

    registry.promote_through_gate(version=inverted, actor=None, override_reason="Test override")

    inverted.refresh_from_db()
    assert inverted.status == ModelStatus.PRODUCTION
    event = AuditEvent.objects.filter(action="model.promoted").latest("id")
    assert event.detail["override_reason"] == "Test override" and not event.detail["gate_passed"]


def test_admin_shows_the_comparison_and_refuses_then_accepts_an_override(
    client, administrator, trained, inverted
):
    registry.promote(version=trained.model_version)
    training_worker.compare_with_production(version=inverted)
    url = f"/admin/diagnostics/modelversion/{inverted.pk}/promote/"

    listing = client.get("/admin/diagnostics/modelversion/").content.decode()
    assert "refuses" in listing  # the gate's verdict in the list
    page = client.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert "model-comparison" in html and str(trained.model_version) in html
    assert "The promotion gate refuses this model" in html

    refused = client.post(url, {"override_reason": ""})
    assert refused.status_code == 200
    inverted.refresh_from_db()
    assert inverted.status == ModelStatus.CANDIDATE

    accepted = client.post(url, {"override_reason": "Clinical lead approved, ticket 42"})
    assert accepted.status_code == 302
    inverted.refresh_from_db()
    assert inverted.status == ModelStatus.PRODUCTION
    event = AuditEvent.objects.filter(action="model.promoted").latest("id")
    assert event.actor == administrator
    assert event.detail["override_reason"] == "Clinical lead approved, ticket 42"

    run_page = client.get(f"/admin/diagnostics/trainingrun/{trained.pk}/change/").content.decode()
    assert "epoch 4 of 4" in run_page and "reliability-diagram" in run_page
    assert "Subgroups" in run_page and "temperature" in run_page
    assert client.get("/admin/diagnostics/trainingrun/start/").status_code == 200
