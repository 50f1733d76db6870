"""``python manage.py start_canary NAME VERSION --fraction 0.1``: let a registered model version
analyse a fixed share of new diagnostics beside the production model.

The share is chosen by diagnostic id (``registry.version_for``), so a diagnostic always meets the
same model and every diagnostic records the version that analysed it. A previous canary goes back
to candidate. End the canary from the admin: promote the version once it has proved itself, or
demote it. It is compared with production over its period and rolled back by itself past the
thresholds of ``CANARY_*`` (``diagnostics.canary``, docs/model.md).

``--shadow`` runs the version on its share of new diagnostics *beside* the model that serves them:
its answers are stored apart and never shown, only compared.
"""

from django.core.management.base import BaseCommand, CommandError

from diagnostics import registry
from diagnostics.models import ModelStatus, ModelVersion


class Command(BaseCommand):
    help = "Route a fraction of new diagnostics (chosen by id) to a registered model version."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("version")
        parser.add_argument("--fraction", type=float, default=None, help="default 0.1 (shadow: 1)")
        parser.add_argument(
            "--shadow", action="store_true", help="analyse without showing the results"
        )

    def handle(self, *args, name, version, fraction, shadow, **options):
        found = ModelVersion.objects.filter(name=name, version=version).first()
        if found is None:
            raise CommandError(f"No model version {name} {version} is registered.")
        if found.status in (ModelStatus.PRODUCTION, ModelStatus.ARCHIVED):
            raise CommandError(f"{found} is {found.status}; only a candidate can be a canary.")
        start = registry.start_shadow if shadow else registry.start_canary
        fraction = fraction if fraction is not None else (1.0 if shadow else 0.1)
        try:
            started = start(version=found, fraction=fraction)
        except registry.RegistryError as exc:
            raise CommandError(str(exc)) from exc
        how = "in shadow (results not shown)" if shadow else "of new diagnostics"
        self.stdout.write(self.style.SUCCESS(f"{started} now analyses {fraction:.0%} {how}."))
