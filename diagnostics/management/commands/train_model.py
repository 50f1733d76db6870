"""``python manage.py train_model --synthetic``: train, evaluate and register a model."""

import tempfile
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from diagnostics import drift, registry
from diagnostics.management.commands.record_input_reference import synthetic_clips
from diagnostics.ml.model import LoadedModel, save_artifact
from diagnostics.ml.train import train_synthetic_baseline
from diagnostics.models import ModelStatus


class Command(BaseCommand):
    help = (
        "Train the CNN on SYNTHETIC sounds (the only data this project ships), evaluate it on a "
        "held-out split and register it. --promote makes it the production model."
    )

    def add_arguments(self, parser):
        parser.add_argument("--synthetic", action="store_true", required=True)
        parser.add_argument("--examples", type=int, default=1000)
        parser.add_argument("--epochs", type=int, default=10)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--name", default="cough-cnn-synthetic")
        parser.add_argument("--model-version", default=None, help="default: a timestamp")
        parser.add_argument("--promote", action="store_true")

    def handle(self, *args, examples, epochs, seed, name, model_version, promote, **options):
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
