"""A shadow model analyses live uploads beside production without showing anything: its answers
are stored apart (``ShadowResult``), never on a page, in the API or in a live message, and feed
the same comparison with production as a canary's, paired on the same diagnostics."""

import pytest
from django.db import transaction

from diagnostics import canary, inference, live, registry
from diagnostics.models import DiagnosticStatus, ModelStatus, ShadowResult
from diagnostics.reviews import Decision, review_diagnostic
from diagnostics.tasks import check_model_trials
from portal.core.models import AuditEvent
from tests.diagnostics.inference_steps import submit
from tests.factories import PatientFactory, UserFactory, verified_login

OTHER = {"healthy": "anomaly", "anomaly": "healthy"}


@pytest.mark.django_db(transaction=True)
def test_a_shadow_answers_every_upload_apart_and_is_compared_without_being_shown(
    api, clinician, site, production_model, contrary_artifact, model_trial_settings, empty_broker
):
    shadow = registry.start_shadow(
        version=registry.register_model_version(artifact_path=contrary_artifact)
    )
    patient = PatientFactory(site=site)
    with transaction.atomic():
        diagnostics = [submit(patient, clinician, seed=seed) for seed in range(710, 714)]
    inference.analyse(inference.claim(diagnostic_id=diagnostics[0].pk, task_id="shadow-test"))

    answers = {r.diagnostic_id: r for r in ShadowResult.objects.filter(model_version=shadow)}
    for diagnostic in diagnostics:
        diagnostic.refresh_from_db()
        # The diagnostic is production's alone; the shadow's answer, the other label, is apart.
        assert diagnostic.status == DiagnosticStatus.SUCCEEDED
        assert diagnostic.model_version == production_model
        assert answers[diagnostic.pk].label == OTHER[diagnostic.label]
        assert answers[diagnostic.pk].confidence == pytest.approx(diagnostic.confidence, abs=1e-5)
    # Nothing of the shadow anywhere a person or a client reads results.
    shown = [
        api.get(f"/api/v1/diagnostics/{diagnostics[0].pk}/").content.decode(),
        api.get("/api/v1/diagnostics/").content.decode(),
        api.get(f"/diagnostics/{diagnostics[0].pk}/").content.decode(),
        api.get(f"/patients/{patient.pk}/").content.decode(),
        api.get("/review/").content.decode(),
        str([live.status_message(d) for d in diagnostics]),
    ]
    for text in shown:
        assert "contrary" not in text and shadow.sha256 not in text

    # Reviewers confirm production: the paired comparison sees the shadow disagree.
    for diagnostic in diagnostics:
        review_diagnostic(diagnostic=diagnostic, actor=clinician, decision=Decision.CONFIRM)
    comparison = canary.compare(shadow)
    assert comparison.mode == "shadow"
    assert (comparison.trial.reviewed, comparison.trial.agreement) == (4, 0.0)
    assert (comparison.serving.reviewed, comparison.serving.agreement) == (4, 1.0)
    check_model_trials()
    shadow.refresh_from_db()
    assert shadow.status == ModelStatus.CANDIDATE
    assert [r["measure"] for r in shadow.rollback_reasons] == ["agreement"]

    # Stopped: the next upload is analysed by production alone.
    with transaction.atomic():
        later = submit(patient, clinician, seed=720)
    inference.analyse(inference.claim(diagnostic_id=later.pk, task_id="after-shadow"))
    assert not ShadowResult.objects.filter(diagnostic_id=later.pk).exists()


def test_an_administrator_starts_a_shadow_or_a_canary_from_the_admin(
    client, production_model, contrary_artifact
):
    candidate = registry.register_model_version(artifact_path=contrary_artifact)
    verified_login(client, UserFactory(username="root", is_staff=True, is_superuser=True))
    changelist = "/admin/diagnostics/modelversion/"

    refused = client.post(changelist, {"action": "start_shadow",
                                       "_selected_action": [production_model.pk]}, follow=True)  # fmt: skip
    client.post(changelist, {"action": "start_shadow", "_selected_action": [candidate.pk]})

    assert "Only a candidate" in refused.content.decode()
    production_model.refresh_from_db()
    candidate.refresh_from_db()
    assert production_model.status == ModelStatus.PRODUCTION
    assert candidate.status == ModelStatus.SHADOW and candidate.canary_fraction == 1.0
    assert candidate.canary_started_at is not None

    client.post(changelist, {"action": "demote", "_selected_action": [candidate.pk]})
    client.post(changelist, {"action": "start_canary", "_selected_action": [candidate.pk]})

    candidate.refresh_from_db()
    assert candidate.status == ModelStatus.CANARY and candidate.canary_fraction == 0.1
    assert (
        AuditEvent.objects.filter(action="admin.changed", object_id=str(candidate.pk)).count() == 3
    )
