from django.conf import settings
from django.core.management.base import BaseCommand

from media_assets.maintenance import cleanup_pending_uploads


class Command(BaseCommand):
    help = "Remove direct uploads that were opened but never completed (object and row)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--max-age", type=int, default=settings.PENDING_UPLOAD_MAX_AGE_S,
            help="Age in seconds after which a pending upload is stale (default: the setting).",
        )  # fmt: skip

    def handle(self, *args, max_age, **options):
        removed = cleanup_pending_uploads(max_age_s=max_age)
        self.stdout.write(f"Removed {removed} stale pending upload(s).")
