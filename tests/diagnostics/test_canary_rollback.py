"""A canary is compared with production over the same period (agreement with clinicians'
reviews, inconclusive rate, error rate) and rolled back by the periodic check once it is worse
than production past a bound, with enough cases on both sides: audited, counted, shown in the
admin. The canary here is a real model made to disagree (the tiny model with its labels swapped),
run by the real inference code on real uploads."""

import pytest
from django.db import transaction
from django.utils import timezone
from prometheus_client import REGISTRY

from diagnostics import canary, inference, registry
from diagnostics.models import DiagnosticStatus, Label, ModelStatus
from diagnostics.reviews import Decision, review_diagnostic
from diagnostics.tasks import check_model_trials
from portal.core.models import AuditEvent
from tests.diagnostics.inference_steps import submit
from tests.factories import PatientFactory, UserFactory, verified_login
from tests.factories_clinical import ModelVersionFactory, failed, succeeded

OTHER = {Label.HEALTHY: Label.ANOMALY, Label.ANOMALY: Label.HEALTHY}


def rollbacks(mode: str) -> float:
    return REGISTRY.get_sample_value("portal_model_rollbacks_total", {"mode": mode}) or 0.0


def analysed_with_canary(patient, clinician, contrary_artifact, *, seeds):
    """Uploads analysed by the real inference code, half of them by the contrary canary."""
    candidate = registry.register_model_version(artifact_path=contrary_artifact)
    with transaction.atomic():
        diagnostics = [submit(patient, clinician, seed=seed) for seed in seeds]
    buckets = sorted(registry.canary_bucket(d.pk) for d in diagnostics)
    middle = len(buckets) // 2
    trial = registry.start_canary(
        version=candidate, fraction=(buckets[middle - 1] + buckets[middle]) / 2
    )
    inference.analyse(inference.claim(diagnostic_id=diagnostics[0].pk, task_id="canary-test"))
    for diagnostic in diagnostics:
        diagnostic.refresh_from_db()
        assert diagnostic.status == DiagnosticStatus.SUCCEEDED
    return trial, diagnostics


@pytest.mark.django_db(transaction=True)
def test_a_canary_that_disagrees_with_reviewers_is_rolled_back_by_the_periodic_check(
    client, clinician, site, production_model, contrary_artifact, model_trial_settings,
    empty_broker,
):  # fmt: skip
    patient = PatientFactory(site=site)
    trial, diagnostics = analysed_with_canary(
        patient, clinician, contrary_artifact, seeds=range(610, 618)
    )
    served = {d.pk: d.model_version_id for d in diagnostics}
    assert sorted(served.values()) == [production_model.pk] * 4 + [trial.pk] * 4
    # Clinicians confirm production's answers and correct every one of the canary's.
    for diagnostic in diagnostics:
        if diagnostic.model_version_id == trial.pk:
            review_diagnostic(diagnostic=diagnostic, actor=clinician, decision=Decision.CORRECT,
                              label=OTHER[diagnostic.label])  # fmt: skip
        else:
            review_diagnostic(diagnostic=diagnostic, actor=clinician, decision=Decision.CONFIRM)
    before = rollbacks("canary")

    comparison = canary.compare(trial)
    assert (comparison.trial.reviewed, comparison.trial.agreement) == (4, 0.0)
    assert (comparison.serving.reviewed, comparison.serving.agreement) == (4, 1.0)
    outcome = check_model_trials()

    trial.refresh_from_db()
    assert trial.status == ModelStatus.CANDIDATE and trial.canary_fraction == 0
    assert trial.rolled_back_at is not None
    assert [r["measure"] for r in trial.rollback_reasons] == ["agreement"]
    assert outcome == [{"model_version": str(trial), "mode": "canary", "rolled_back": True,
                        "reasons": trial.rollback_reasons}]  # fmt: skip
    event = AuditEvent.objects.get(action="model.canary_rolled_back")
    assert event.object_id == str(trial.pk)
    assert event.detail["comparison"]["candidate"]["agreement"] == 0.0
    assert rollbacks("canary") == before + 1
    # New uploads meet production only; a second check finds nothing to do.
    assert registry.version_for(diagnostics[0].pk) == production_model
    assert check_model_trials() == []
    # The administrators see it on the version's page.
    verified_login(client, UserFactory(username="root", is_staff=True, is_superuser=True))
    page = client.get(f"/admin/diagnostics/modelversion/{trial.pk}/change/").content.decode()
    assert "Last automatic rollback" in page and "agreement: 0.0% against production" in page


@pytest.mark.django_db
def test_no_verdict_before_both_sides_have_the_minimum_of_cases(settings):
    settings.CANARY_MIN_REVIEWED, settings.CANARY_MIN_ANALYSED = 3, 3
    production = ModelVersionFactory(status=ModelStatus.PRODUCTION)
    trial = registry.start_canary(version=ModelVersionFactory(), fraction=0.5)
    for version, label, review in [(production, "healthy", "healthy")] * 3 + [
        (trial, "healthy", "anomaly")
    ] * 2:
        succeeded(label=label, model_version=version, review_label=review,
                  reviewed_at=trial.canary_started_at)  # fmt: skip

    assert canary.compare(trial).reasons() == []  # two canary reviews: not yet
    succeeded(label="healthy", model_version=trial, review_label="anomaly",
              reviewed_at=trial.canary_started_at)  # fmt: skip
    assert [r["measure"] for r in canary.compare(trial).reasons()] == ["agreement"]


@pytest.mark.django_db
def test_a_canary_as_good_as_production_keeps_running_and_one_that_fails_more_is_rolled_back(
    settings,
):
    settings.CANARY_MIN_REVIEWED, settings.CANARY_MIN_ANALYSED = 2, 4
    settings.CANARY_MAX_ERROR_RISE = 0.1
    production = ModelVersionFactory(status=ModelStatus.PRODUCTION)
    trial = registry.start_canary(version=ModelVersionFactory(), fraction=0.5)
    for version in (production, trial):
        for _ in range(4):
            succeeded(label="healthy", model_version=version)

    assert check_model_trials() == [
        {"model_version": str(trial), "mode": "canary", "rolled_back": False, "reasons": []}
    ]
    for _ in range(2):  # failures routed to the canary count against it
        failed(model_version=trial)
    check_model_trials()

    trial.refresh_from_db()
    assert trial.status == ModelStatus.CANDIDATE
    assert trial.rollback_reasons == [
        {"measure": "error_rate", "candidate": 0.3333, "production": 0.0, "bound": 0.1}
    ]


@pytest.mark.django_db
def test_diagnostics_finished_before_the_canary_began_are_not_compared(settings):
    settings.CANARY_MIN_REVIEWED, settings.CANARY_MIN_ANALYSED = 1, 1
    production = ModelVersionFactory(status=ModelStatus.PRODUCTION)
    old = succeeded(label="healthy", model_version=production, review_label="anomaly",
                    reviewed_at=timezone.now())  # fmt: skip
    trial = registry.start_canary(version=ModelVersionFactory(), fraction=0.5)

    comparison = canary.compare(trial)

    assert old.finished_at < trial.canary_started_at
    assert comparison.serving.analysed == 0 and comparison.reasons() == []
