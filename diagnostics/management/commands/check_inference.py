"""A health check for inference workers: is there a model, and does its artifact load?

Exit status 0 when ready, 1 with the reason otherwise; use it as the inference worker's readiness
probe (``python manage.py check_inference``). It never retries in a loop, so a broken artifact
shows up as "not ready" with a reason instead of a crash loop.
"""

import sys

from django.core.management.base import BaseCommand

from diagnostics.ml.model import ArtifactError
from diagnostics.model_cache import get_model
from diagnostics.registry import production_version


class Command(BaseCommand):
    help = "Check that a production model exists and its artifact loads (exit 1 with a reason)."

    def handle(self, *args, **options):
        version = production_version()
        if version is None:
            self.stdout.write("not ready: no production model is registered")
            sys.exit(1)
        try:
            get_model(version)
        except ArtifactError as exc:
            self.stdout.write(f"not ready: model {version} cannot be loaded: {exc}")
            sys.exit(1)
        self.stdout.write(f"ready: model {version}")
