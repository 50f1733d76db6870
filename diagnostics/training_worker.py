"""The work of a training run, on the ``training`` queue's worker: read the snapshot's audio,
train, calibrate, evaluate, register the candidate and compare it with production.

TensorFlow is imported here, never in the web process. Progress (epoch, per-epoch metrics, log)
is written to the run as it goes, so the admin shows it; a cancellation is a flag on the run that
training reads between batches (at most once a second). The comparison with production, which the
promotion gate reads (``diagnostics.registry.promote_through_gate``), runs both models on the same
evaluation set: the candidate's held-out patients, whom it never saw.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from diagnostics import drift, model_cache, registry
from diagnostics.ml.evaluation import EvaluationSettings, GateSettings, evaluate_model, gate
from diagnostics.ml.model import save_artifact
from diagnostics.ml.train import TrainingCancelled, train
from diagnostics.models import ModelVersion, TrainingRun, TrainingStatus
from media_assets.models import Recording
from media_assets.storage import verified_analysis_audio

logger = logging.getLogger(__name__)
LABELS = ("healthy", "anomaly")
SUBGROUPS = ("sex", "age_band", "site", "kind")


def evaluation_settings(seed: int = 0) -> EvaluationSettings:
    return EvaluationSettings(
        target_specificity=settings.EVALUATION_TARGET_SPECIFICITY,
        target_sensitivity=settings.EVALUATION_TARGET_SENSITIVITY,
        n_bootstrap=settings.EVALUATION_BOOTSTRAP_RESAMPLES,
        seed=seed,
    )


def gate_settings() -> GateSettings:
    return GateSettings(
        auc_margin=settings.GATE_AUC_MARGIN,
        sensitivity_margin=settings.GATE_SENSITIVITY_MARGIN,
        subgroup_margin=settings.GATE_SUBGROUP_MARGIN,
        subgroup_min_cases=settings.GATE_SUBGROUP_MIN_CASES,
    )


class _Progress:
    """Writes each epoch's metrics and log line to the run, and answers "cancel?"."""

    def __init__(self, run: TrainingRun) -> None:
        self.run, self.lines, self.history = run, [], []
        self._checked_at, self._cancelled = 0.0, False

    def log(self, line: str) -> None:
        self.lines.append(f"{timezone.now():%H:%M:%S} {line}")
        TrainingRun.objects.filter(pk=self.run.pk).update(log="\n".join(self.lines))

    def epoch(self, epoch: int, epochs: int, logs: dict[str, float]) -> None:
        self.history.append({"epoch": epoch, **{k: round(v, 6) for k, v in logs.items()}})
        TrainingRun.objects.filter(pk=self.run.pk).update(epoch=epoch, history=self.history)
        shown = ", ".join(f"{k} {v:.4f}" for k, v in sorted(logs.items()))
        self.log(f"epoch {epoch}/{epochs}: {shown}")

    def should_stop(self) -> bool:
        if not self._cancelled and time.monotonic() - self._checked_at >= 1.0:
            self._checked_at = time.monotonic()
            self._cancelled = TrainingRun.objects.filter(
                pk=self.run.pk, cancel_requested=True
            ).exists()
        return self._cancelled


def _claim(run_id: int, task_id: str) -> TrainingRun | None:
    claimed = TrainingRun.objects.filter(pk=run_id, status=TrainingStatus.QUEUED).update(
        status=TrainingStatus.RUNNING, started_at=timezone.now(), task_id=task_id
    )
    return TrainingRun.objects.get(pk=run_id) if claimed else None


def load_examples(rows: Sequence[dict[str, Any]]) -> list[np.ndarray]:
    """The snapshot's audio as analysis signals, each checked against its frozen sha256."""
    keys = dict(
        Recording.objects.filter(pk__in=[r["recording"] for r in rows]).values_list(
            "pk", "storage_key"
        )
    )
    return [
        verified_analysis_audio(keys[row["recording"]], sha256=row["sha256"]).samples
        for row in rows
    ]


def execute_training_run(*, run_id: int, task_id: str = "") -> TrainingRun | None:
    """Run a queued training run to its end; a run not queued (done, cancelled) is left alone."""
    run = _claim(run_id, task_id)
    if run is None:
        return None
    progress = _Progress(run)
    try:
        _train_and_register(run, progress)
    except TrainingCancelled:
        progress.log("cancelled between batches; nothing was registered")
        return _finish(run, TrainingStatus.CANCELLED)
    except Exception as exc:  # any failure ends the run as failed, with its reason in the log
        logger.exception("training run failed", extra={"training_run": run.pk})
        progress.log(f"failed: {type(exc).__name__}: {exc}")
        return _finish(run, TrainingStatus.FAILED)
    return _finish(run, TrainingStatus.SUCCEEDED)


def _finish(run: TrainingRun, status: str) -> TrainingRun:
    TrainingRun.objects.filter(pk=run.pk).update(status=status, finished_at=timezone.now())
    run.refresh_from_db()
    return run


def _train_and_register(run: TrainingRun, progress: _Progress) -> None:
    parameters, rows = run.parameters, run.snapshot
    progress.log(f"reading {len(rows)} recordings of the snapshot")
    waveforms = load_examples(rows)
    progress.log(f"training {parameters['epochs']} epoch(s), seed {parameters['seed']}")
    result = train(
        [(w, row["label"]) for w, row in zip(waveforms, rows, strict=True)],
        labels=LABELS, epochs=int(parameters["epochs"]), batch_size=int(parameters["batch_size"]),
        seed=int(parameters["seed"]), clip_seconds=float(parameters["clip_seconds"]),
        validation_fraction=float(parameters["validation_fraction"]),
        calibration_fraction=float(parameters["calibration_fraction"]),
        groups=[str(row["patient"]) for row in rows],
        subgroups={name: [row[name] for row in rows] for name in SUBGROUPS},
        evaluation=evaluation_settings(int(parameters["seed"])),
        progress=progress.epoch, should_stop=progress.should_stop,
    )  # fmt: skip
    progress.log(f"calibration: {calibration_summary(result.metrics)}")
    test_ids = [rows[i]["diagnostic"] for i in result.split["test"]]
    trained_on = "+".join(["reviews", *parameters["datasets"]])
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "model.zip"
        metadata = result.to_metadata(
            name=parameters["name"], version=f"run-{run.pk}", trained_on=trained_on
        )
        save_artifact(result.model, metadata, path)
        version = registry.register_model_version(artifact_path=path)
    version.evaluation = {**result.evaluation, "evaluation_set": test_ids}
    version.save(update_fields=["evaluation"])
    TrainingRun.objects.filter(pk=run.pk).update(
        model_version=version, metrics=result.metrics, evaluation=version.evaluation
    )
    progress.log(f"registered {version} as a candidate")
    _record_input_reference(version, [waveforms[i] for i in result.split["train"]])
    compare_with_production(version=version, log=progress.log)


# Enough recordings to pin the reference's means and spreads; more only costs inference time.
REFERENCE_RECORDINGS = 400


def _record_input_reference(version: ModelVersion, trained_on: list[np.ndarray]) -> None:
    """What the candidate's training inputs looked like (duration, loudness, its embeddings'
    mean): the reference its input drift is measured against once it serves."""
    sample = trained_on[:REFERENCE_RECORDINGS]
    reference = drift.reference_from_clips(
        model_cache.get_model(version), sample, settings.ANALYSIS_SAMPLE_RATE
    )
    drift.set_reference(version=version, reference=reference)


_NOT_APPLIED = {
    "no_cases": "no calibration cases",
    "separable": "every calibration case was classified right, so no temperature can be fitted",
    "not_significant": "it lowers the calibration cases' log-likelihood no more than chance "
    "(likelihood ratio {ratio} < 3.84)",
    "raises_ece": "it raises the calibration cases' ECE",
}


def calibration_summary(metrics: dict[str, Any]) -> str:
    """The log's (and `train_model`'s) account of the calibration: the temperature served, the
    fit and why it was (not) served, and the ECE before and after on both splits."""
    fit = metrics["calibration"]
    if fit["decision"] == "applied":
        served = f"fitted on {fit['cases']} calibration recordings and applied"
    else:
        reason = _NOT_APPLIED[fit["decision"]].format(ratio=fit["likelihood_ratio"])
        served = f"not applied (fitted {fit['fitted_temperature']}): {reason}"
    return (
        f"temperature {metrics['temperature']}, {served}; "
        f"ECE before {metrics['ece_before_calibration']} after "
        f"{metrics['expected_calibration_error']} on the {metrics['n_test']} held-out "
        f"recordings; before {fit['ece_before']} after {fit['ece_after']} on the "
        f"{fit['cases']} calibration recordings"
    )


def _evaluate(version: ModelVersion, rows: list[dict], waveforms: list[np.ndarray]) -> dict:
    loaded = model_cache.get_model(version)
    probabilities, _ = loaded.infer(loaded.fit(waveforms))
    y = np.array([list(loaded.labels).index(row["label"]) for row in rows])
    return evaluate_model(
        probabilities, y, loaded.labels,
        subgroups={name: [row[name] for row in rows] for name in SUBGROUPS},
        settings=evaluation_settings(),
    )  # fmt: skip


def compare_with_production(*, version: ModelVersion, log=logger.info) -> dict:
    """Evaluate ``version`` and production on ``version``'s evaluation set and store the gate's
    decision on ``version.comparison`` (with no production model, the gate has nothing to hold)."""
    production = registry.production_version()
    evaluation_set = version.evaluation.get("evaluation_set") or []
    runs = version.training_runs.order_by("-id")
    run = runs.first()
    comparison: dict[str, Any] = {"evaluated_at": timezone.now().isoformat()}
    if production is None or production.pk == version.pk:
        comparison |= {"production": None, "decision": {"passed": True, "reasons": []}}
    elif not evaluation_set or run is None:
        reason = "this version has no evaluation set (it was not trained by a training run)"
        comparison |= {
            "production": {"id": production.pk, "name": str(production)},
            "decision": {"passed": False, "reasons": [reason]},
        }
    else:
        rows = [row for row in run.snapshot if row["diagnostic"] in set(evaluation_set)]
        waveforms = load_examples(rows)
        candidate, current = (
            _evaluate(version, rows, waveforms),
            _evaluate(production, rows, waveforms),
        )
        decision = gate(candidate, current, gate_settings())
        comparison |= {
            "production": {"id": production.pk, "name": str(production)},
            "cases": len(rows), "candidate": candidate, "production_evaluation": current,
            "decision": decision.as_dict(), "settings": gate_settings().__dict__,
        }  # fmt: skip
    with transaction.atomic():
        ModelVersion.objects.filter(pk=version.pk).update(comparison=comparison)
    version.comparison = comparison
    verdict = "passes" if comparison["decision"]["passed"] else "is refused by"
    log(f"{version} {verdict} the promotion gate: {comparison['decision']['reasons'] or 'ok'}")
    return comparison
