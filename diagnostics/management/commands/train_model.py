"""``python manage.py train_model --synthetic`` or ``--from-reviews``: train, evaluate, register.

``--from-reviews`` trains on clinicians' reviews of consenting patients (and, with ``--dataset``,
imported public data sets' labels) through a training run (``diagnostics.training``), in this
process, and prints the evaluation: the AUC with its bootstrap interval, the operating points, the
calibration (ECE before and after) and the promotion gate's verdict against production.
"""

import tempfile
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from diagnostics import drift, registry, training, training_worker
from diagnostics.dataset_import import DATASETS
from diagnostics.management.commands.record_input_reference import synthetic_clips
from diagnostics.ml.model import LoadedModel, save_artifact
from diagnostics.ml.train import train_synthetic_baseline
from diagnostics.models import ModelStatus, TrainingRun, TrainingStatus
from portal.core.errors import DomainError


class Command(BaseCommand):
    help = (
        "Train the CNN on SYNTHETIC sounds (--synthetic) or on reviewed results (--from-reviews), "
        "evaluate it on held-out patients and register it. --promote makes it the production "
        "model (through the promotion gate, for --from-reviews)."
    )

    def add_arguments(self, parser):
        source = parser.add_mutually_exclusive_group(required=True)
        source.add_argument("--synthetic", action="store_true")
        source.add_argument("--from-reviews", action="store_true")
        source.add_argument("--reproduce", type=int, metavar="RUN_ID",
                            help="train again on a run's frozen snapshot and parameters")  # fmt: skip
        parser.add_argument("--examples", type=int, default=1000, help="--synthetic only")
        parser.add_argument("--epochs", type=int, default=None)
        parser.add_argument("--seed", type=int, default=None)
        parser.add_argument("--batch-size", type=int, default=None)
        parser.add_argument("--clip-seconds", type=float, default=None)
        parser.add_argument("--dataset", action="append", choices=sorted(DATASETS), default=[],
                            help="also train on this imported data set's labels (repeatable)")  # fmt: skip
        parser.add_argument("--name", default=None)
        parser.add_argument("--model-version", default=None, help="--synthetic: a timestamp")
        parser.add_argument("--promote", action="store_true")
        parser.add_argument("--override-gate", default="", metavar="REASON",
                            help="promote although the gate refuses, for this written reason")  # fmt: skip

    def handle(self, *args, synthetic, **options):
        if synthetic:
            return self._synthetic(**options)
        return self._from_reviews(**options)

    def _from_reviews(self, *, from_reviews, reproduce, promote, override_gate, **options):
        try:
            if reproduce:
                original = TrainingRun.objects.filter(pk=reproduce).first()
                if original is None:
                    raise CommandError(f"There is no training run {reproduce}.")
                run = training.reproduce_training_run(run=original, actor=None, enqueue=False)
            else:
                run = training.start_training_run(
                    actor=None, parameters=self._parameters(options), enqueue=False
                )
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(f"Training run {run.pk}: {run.n_examples} reviewed recordings…")
        started = time.monotonic()
        run = training_worker.execute_training_run(run_id=run.pk)
        self.stdout.write(run.log)
        if run.status != TrainingStatus.SUCCEEDED:
            raise CommandError(f"Training run {run.pk} {run.status}.")
        self._report(run, time.monotonic() - started)
        if promote:
            self._promote(run.model_version, override_gate)

    def _parameters(self, options) -> dict:
        names = {"epochs": "epochs", "seed": "seed", "batch_size": "batch_size",
                 "clip_seconds": "clip_seconds", "name": "name"}  # fmt: skip
        parameters = {key: options[opt] for opt, key in names.items() if options[opt] is not None}
        return {**parameters, "datasets": options["dataset"]}

    def _report(self, run: TrainingRun, seconds: float) -> None:
        m, e = run.metrics, run.evaluation
        low, high = e["roc_auc_ci95"]
        lines = [
            f"Registered {run.model_version} (candidate) in {seconds:.0f} s.",
            f"Held out: {m['n_test']} recordings of patients not trained on "
            f"({m['n_train']} trained, {m['n_calibration']} calibrated on).",
            f"ROC AUC {e['roc_auc']} (95% CI {low} to {high}).",
            f"Sensitivity {e['sensitivity_at_specificity']} at specificity "
            f"{e['target_specificity']}; specificity {e['specificity_at_sensitivity']} at "
            f"sensitivity {e['target_sensitivity']}.",
            f"Calibration: {training_worker.calibration_summary(m)}.",
        ]
        for attribute, groups in e["subgroups"].items():
            shown = ", ".join(
                f"{value} n={g['n']} AUC {g['roc_auc']}" for value, g in groups.items()
            )
            lines.append(f"  {attribute}: {shown}")
        decision = run.model_version.comparison.get("decision", {})
        lines.append(
            "Promotion gate: "
            + ("passes" if decision.get("passed") else "refuses: " + "; ".join(decision["reasons"]))
        )
        self.stdout.write(self.style.SUCCESS("\n".join(lines)))

    def _promote(self, version, override_reason: str) -> None:
        try:
            registry.promote_through_gate(
                version=version, actor=None, override_reason=override_reason
            )
        except registry.PromotionRefused as exc:
            raise CommandError(f"{exc.message} (--override-gate REASON to override)") from exc
        self.stdout.write(self.style.SUCCESS(f"{version} is now the production model."))

    def _synthetic(self, *, examples, epochs, seed, name, model_version, promote, **options):
        epochs, seed = epochs or 10, seed or 0
        name = name or "cough-cnn-synthetic"
        version = model_version or timezone.now().strftime("%Y%m%d-%H%M%S")
        started = time.monotonic()
        self.stdout.write(
            f"Training {name} {version} on {examples} synthetic sounds, {epochs} epochs…"
        )
        result = train_synthetic_baseline(
            n_examples=examples, epochs=epochs, seed=seed, progress=self._progress(epochs)
        )
        self.stdout.write("")
        with tempfile.TemporaryDirectory() as scratch:
            path = Path(scratch) / "model.zip"
            save_artifact(result.model, result.to_metadata(name=name, version=version), path)
            try:
                registered = registry.register_model_version(
                    artifact_path=path,
                    status=ModelStatus.PRODUCTION if promote else ModelStatus.CANDIDATE,
                )
            except registry.RegistryError as exc:
                raise CommandError(str(exc)) from exc
        # What its inputs looked like, for input drift: a sample of the sounds it learned from.
        drift.set_reference(
            version=registered,
            reference=drift.reference_from_clips(
                LoadedModel(result.model, result.to_metadata(name=name, version=version)),
                synthetic_clips(min(examples, 400), seed),
                16000,
            ),
        )
        metrics = result.metrics
        self.stdout.write(
            self.style.SUCCESS(
                f"Registered {registered} ({registered.status}) in {time.monotonic() - started:.0f} s. "
                f"Held-out synthetic data: AUC {metrics['roc_auc']:.3f}, sensitivity "
                f"{metrics['sensitivity']:.3f}, specificity {metrics['specificity']:.3f}, "
                f"ECE {metrics['expected_calibration_error']:.3f}."
            )
        )

    def _progress(self, epochs: int):
        def report(epoch: int, total: int, logs: dict) -> None:
            width = 30
            done = int(width * epoch / total)
            loss = logs.get("loss", float("nan"))
            self.stdout.write(
                f"\r  [{'#' * done}{'.' * (width - done)}] epoch {epoch}/{total} loss {loss:.4f}",
                ending="",
            )
            self.stdout.flush()

        return report
