import json

from django.conf import settings
from django.core.management.base import BaseCommand

from media_assets.maintenance import reconcile_storage


class Command(BaseCommand):
    help = (
        "Report stored recordings whose object is missing and objects that no recording names; "
        "with --repair, quarantine those rows and delete orphan objects older than the grace period."
    )

    def add_arguments(self, parser):
        parser.add_argument("--repair", action="store_true")
        parser.add_argument(
            "--grace", type=int, default=settings.RECONCILE_GRACE_S,
            help="Ignore objects and rows younger than this many seconds (uploads in flight).",
        )  # fmt: skip

    def handle(self, *args, repair, grace, **options):
        report = reconcile_storage(repair=repair, grace_s=grace)
        self.stdout.write(json.dumps(report.as_dict(), indent=2))
        for recording_id in report.missing_objects:
            self.stdout.write(f"missing object: recording #{recording_id}")
        for key in report.orphan_objects:
            self.stdout.write(f"orphan object: {key}")
