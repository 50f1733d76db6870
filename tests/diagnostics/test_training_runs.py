"""Training runs from reviews: the frozen snapshot holds only what may train, a run trains,
calibrates, evaluates by held-out patient and registers a candidate, it is reproduced exactly
from its snapshot, and it stops when cancelled. Real TensorFlow, tiny runs (SYNTHETIC sounds)."""

import io

import pytest
from django.core.management import call_command

from diagnostics import training, training_worker
from diagnostics.ml.synth import write_coughvid_layout
from diagnostics.model_cache import get_model
from diagnostics.models import TrainingRun, TrainingStatus
from diagnostics.training_worker import REFERENCE_RECORDINGS
from portal.core.models import AuditEvent
from tests.diagnostics.training_cases import cases_training_leaves_out, reviewed_cases
from tests.factories import SiteFactory, UserFactory, verified_login

pytestmark = pytest.mark.django_db

TINY = {"epochs": 2, "batch_size": 16, "clip_seconds": 2.0, "seed": 5}


@pytest.fixture
def cases(site, clinician):
    return reviewed_cases(site=site, reviewer=clinician, n_patients=24)


def test_snapshot_holds_reviewed_labels_of_consenting_patients_only(site, clinician):
    kept = reviewed_cases(site=site, reviewer=clinician, n_patients=2, per_patient=1)
    left_out = cases_training_leaves_out(site=site, reviewer=clinician)
    imported = reviewed_cases(site=SiteFactory(code="coughvid"), reviewer=None, n_patients=2,
                              per_patient=1, seed=13)  # fmt: skip

    snapshot = training.build_snapshot()
    with_dataset = training.build_snapshot(datasets=["coughvid"])

    assert [row["diagnostic"] for row in snapshot] == [d.pk for d in kept]
    assert {row["diagnostic"] for row in with_dataset} == {d.pk for d in kept + imported}
    assert not {d.pk for d in left_out} & {row["diagnostic"] for row in with_dataset}
    row = snapshot[0]
    assert row["sha256"] == kept[0].recording.sha256 and row["label"] == "healthy"
    assert set(row) == {"diagnostic", "recording", "sha256", "label", "patient", "sex",
                        "age_band", "site", "kind"}  # fmt: skip


def test_a_run_from_reviews_registers_a_calibrated_candidate_and_reproduces_exactly(
    cases, clinician
):
    run = training.start_training_run(actor=clinician, parameters=TINY, enqueue=False)
    run = training_worker.execute_training_run(run_id=run.pk)

    assert run.status == TrainingStatus.SUCCEEDED, run.log
    assert [h["epoch"] for h in run.history] == [1, 2] and run.epoch == 2
    assert "ECE" in run.log and run.started_by == clinician
    version = run.model_version
    assert version.status == "candidate" and version.trained_on == "reviews"
    evaluation = version.evaluation
    low, high = evaluation["roc_auc_ci95"]
    assert low <= evaluation["roc_auc"] <= high
    assert {"sex", "age_band", "site", "kind"} <= set(evaluation["subgroups"])
    assert sum(g["n"] for g in evaluation["subgroups"]["sex"].values()) == evaluation["n"]
    # Held out by patient: no patient of the evaluation set was trained or calibrated on.
    held_out = set(evaluation["evaluation_set"])
    patients = {r["patient"] for r in run.snapshot if r["diagnostic"] in held_out}
    assert patients.isdisjoint(
        {r["patient"] for r in run.snapshot if r["diagnostic"] not in held_out}
    )
    assert get_model(version).metadata.temperature == run.metrics["temperature"] > 0
    assert version.comparison["decision"] == {"passed": True, "reasons": []}  # no production yet
    # Its input drift will be measured against the recordings it was trained on.
    version.refresh_from_db()
    reference = version.input_reference
    assert reference["examples"] == min(run.metrics["n_train"], REFERENCE_RECORDINGS)
    assert reference["duration"]["std"] > 0 and reference["embedding"]["spread"] > 0

    again = training.reproduce_training_run(run=run, actor=clinician, enqueue=False)
    again = training_worker.execute_training_run(run_id=again.pk)

    assert again.reproduces == run and again.snapshot == run.snapshot
    assert again.metrics == run.metrics
    assert again.evaluation == run.evaluation
    assert AuditEvent.objects.filter(action="training.started").count() == 2


def test_train_model_from_reviews_prints_the_evaluation_and_the_calibration(cases):
    out = io.StringIO()
    call_command("train_model", "--from-reviews", "--epochs", "1", "--batch-size", "16",
                 "--clip-seconds", "2", stdout=out)  # fmt: skip

    printed = out.getvalue()
    assert "ROC AUC" in printed and "95% CI" in printed
    assert "ECE" in printed and "before" in printed and "after" in printed
    assert "Promotion gate: passes" in printed
    assert TrainingRun.objects.get().status == TrainingStatus.SUCCEEDED


def test_import_train_evaluate_calibrate_lowers_the_held_out_ece(tmp_path):
    """The issue's path end to end on a synthetic data set in the COUGHVID layout (200 subjects,
    about 30 s): four epochs leave the model underconfident, which the calibration patients show
    beyond chance, so the fitted temperature is served and the held-out ECE falls."""
    write_coughvid_layout(tmp_path / "coughvid", 200, seed=0)
    call_command("import_dataset", "coughvid", str(tmp_path / "coughvid"),
                 stdout=io.StringIO(), stderr=io.StringIO())  # fmt: skip
    out = io.StringIO()

    call_command("train_model", "--from-reviews", "--dataset", "coughvid", "--epochs", "4",
                 "--seed", "0", stdout=out)  # fmt: skip

    run = TrainingRun.objects.get()
    metrics, fit = run.metrics, run.metrics["calibration"]
    printed = next(line for line in out.getvalue().splitlines() if line.startswith("Calibration"))
    print(printed)
    assert f"ECE before {metrics['ece_before_calibration']} after" in printed
    assert fit["decision"] == "applied" and metrics["temperature"] < 1
    assert metrics["expected_calibration_error"] < metrics["ece_before_calibration"]
    assert fit["ece_after"] < fit["ece_before"]
    assert get_model(run.model_version).metadata.temperature == metrics["temperature"]


def test_a_cancelled_run_stops_between_batches_and_registers_nothing(cases, clinician):
    run = training.start_training_run(actor=clinician, parameters=TINY, enqueue=False)
    # The flag an administrator sets while it runs (the service cancels a queued run at once).
    TrainingRun.objects.filter(pk=run.pk).update(cancel_requested=True)

    run = training_worker.execute_training_run(run_id=run.pk)

    assert run.status == TrainingStatus.CANCELLED and run.model_version is None
    assert run.epoch == 0 and "cancelled" in run.log


def test_cancelling_a_queued_run_cancels_it_at_once_and_a_worker_then_skips_it(cases, clinician):
    run = training.start_training_run(actor=clinician, parameters=TINY, enqueue=False)

    training.cancel_training_run(run=run, actor=clinician)

    assert TrainingRun.objects.get(pk=run.pk).status == TrainingStatus.CANCELLED
    assert training_worker.execute_training_run(run_id=run.pk) is None
    with pytest.raises(training.TrainingRefused):
        training.cancel_training_run(run=run, actor=clinician)


def test_training_needs_both_labels(site, clinician):
    reviewed_cases(site=site, reviewer=clinician, n_patients=1, per_patient=2)

    with pytest.raises(training.TrainingRefused):
        training.start_training_run(actor=clinician, parameters=TINY)


def test_an_administrator_starts_and_cancels_a_run_from_the_admin(client, cases):
    admin = UserFactory(username="root", is_staff=True, is_superuser=True)
    verified_login(client, admin)

    started = client.post(
        "/admin/diagnostics/trainingrun/start/",
        {"name": "cough-cnn", "epochs": "3", "seed": "2", "datasets": []},
    )

    run = TrainingRun.objects.get()
    assert started.status_code == 302 and started["Location"].endswith(f"/{run.pk}/change/")
    assert run.status == TrainingStatus.QUEUED and run.started_by == admin
    assert run.parameters["epochs"] == 3 and run.n_examples == len(cases)
    assert AuditEvent.objects.get(action="training.started").actor == admin
    page = client.get(f"/admin/diagnostics/trainingrun/{run.pk}/change/")
    assert b'http-equiv="refresh"' in page.content  # the page follows the run while it goes on

    client.post("/admin/diagnostics/trainingrun/",
                {"action": "cancel", "_selected_action": [run.pk]})  # fmt: skip

    run.refresh_from_db()
    assert run.status == TrainingStatus.CANCELLED and run.cancel_requested


def test_only_administrators_start_runs(client, site):
    staff = UserFactory(username="staffer", is_staff=True)
    verified_login(client, staff)

    assert client.get("/admin/diagnostics/trainingrun/start/").status_code == 403
