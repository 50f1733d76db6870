"""``python manage.py import_model FILE``: register a model artifact trained elsewhere."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from diagnostics import registry
from diagnostics.ml.model import ArtifactError
from diagnostics.models import ModelStatus


class Command(BaseCommand):
    help = "Register a model artifact (zip with model.keras and metadata.json) as a candidate."

    def add_arguments(self, parser):
        parser.add_argument("artifact", type=Path)
        parser.add_argument("--promote", action="store_true")

    def handle(self, *args, artifact, promote, **options):
        if not artifact.is_file():
            raise CommandError(f"{artifact} is not a file.")
        try:
            version = registry.register_model_version(
                artifact_path=artifact,
                status=ModelStatus.PRODUCTION if promote else ModelStatus.CANDIDATE,
            )
        except (ArtifactError, registry.RegistryError) as exc:
            raise CommandError(f"Not registered: {exc}") from exc
        self.stdout.write(self.style.SUCCESS(f"Registered {version} ({version.status})."))
