"""``python manage.py start_canary NAME VERSION --fraction 0.1``: let a registered model version
analyse a fixed share of new diagnostics beside the production model.

The share is chosen by diagnostic id (``registry.version_for``), so a diagnostic always meets the
same model and every diagnostic records the version that analysed it. A previous canary goes back
to candidate. End the canary from the admin: promote the version once it has proved itself, or
demote it.
"""

from django.core.management.base import BaseCommand, CommandError

from diagnostics import registry
from diagnostics.models import ModelStatus, ModelVersion


class Command(BaseCommand):
    help = "Route a fraction of new diagnostics (chosen by id) to a registered model version."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("version")
        parser.add_argument("--fraction", type=float, default=0.1, help="default 0.1")

    def handle(self, *args, name, version, fraction, **options):
        found = ModelVersion.objects.filter(name=name, version=version).first()
        if found is None:
            raise CommandError(f"No model version {name} {version} is registered.")
        if found.status in (ModelStatus.PRODUCTION, ModelStatus.ARCHIVED):
            raise CommandError(f"{found} is {found.status}; only a candidate can be a canary.")
        try:
            canary = registry.start_canary(version=found, fraction=fraction)
        except registry.RegistryError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            self.style.SUCCESS(f"{canary} now analyses {fraction:.0%} of new diagnostics.")
        )
