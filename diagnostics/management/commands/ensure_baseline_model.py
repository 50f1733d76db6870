"""Used by ``make run``: train and promote the synthetic baseline when no model is in production."""

from django.core.management import call_command
from django.core.management.base import BaseCommand

from diagnostics.registry import production_version


class Command(BaseCommand):
    help = "Train and promote the synthetic baseline model if no production model exists."

    def handle(self, *args, **options):
        current = production_version()
        if current is not None:
            note = " (trained on synthetic data)" if current.is_synthetic else ""
            self.stdout.write(f"Production model: {current}{note}.")
            return
        self.stdout.write("No production model yet: training the synthetic baseline (one-off).")
        call_command("train_model", synthetic=True, promote=True, model_version="baseline-1")
