import json

from django.conf import settings
from django.core.management.base import BaseCommand

from media_assets.maintenance import reconcile_storage


class Command(BaseCommand):
    help = (
        "Report stored recordings whose object is missing, uploads whose process died and objects "
        "that no recording names; with --repair, quarantine those rows, remove the abandoned "
        "uploads and delete orphan objects older than the grace period. With --verify, also hash "
        "stored objects (a random --sample of them, read at --rate bytes per second at most) and "
        "quarantine those that no longer match their sha256."
    )

    def add_arguments(self, parser):
        parser.add_argument("--repair", action="store_true")
        parser.add_argument(
            "--grace", type=int, default=settings.RECONCILE_GRACE_S,
            help="Ignore objects and rows younger than this many seconds (uploads in flight).",
        )  # fmt: skip
        parser.add_argument(
            "--verify", action="store_true",
            help="Check stored objects' bytes against their sha256; quarantine mismatches.",
        )  # fmt: skip
        parser.add_argument(
            "--sample", type=int, default=None,
            help="With --verify, check this many stored recordings chosen at random (default: all).",
        )  # fmt: skip
        parser.add_argument(
            "--rate", type=int, default=settings.RECONCILE_VERIFY_BYTES_PER_S,
            help="With --verify, read at most this many bytes per second.",
        )  # fmt: skip

    def handle(self, *args, repair, grace, verify, sample, rate, **options):
        report = reconcile_storage(
            repair=repair, grace_s=grace, verify=verify, sample=sample, rate_bytes_s=rate
        )
        self.stdout.write(json.dumps(report.as_dict(), indent=2))
        for recording_id in report.missing_objects:
            self.stdout.write(f"missing object: recording #{recording_id}")
        for recording_id, key in report.abandoned_uploads:
            self.stdout.write(f"abandoned upload: recording #{recording_id} ({key})")
        for key in report.orphan_objects:
            self.stdout.write(f"orphan object: {key}")
        for recording_id in report.mismatched_objects:
            self.stdout.write(f"content mismatch: recording #{recording_id} (quarantined)")
