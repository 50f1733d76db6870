from django.core.management.base import BaseCommand

from diagnostics.demo import seed_demo_recordings


class Command(BaseCommand):
    help = "Give demo patients synthetic recordings, analysed and partly reviewed (demo data)."

    def handle(self, *args, **options):
        added = seed_demo_recordings()
        if added:
            self.stdout.write(
                self.style.SUCCESS(f"Added and analysed {added} synthetic demo recordings.")
            )
        else:
            self.stdout.write("Demo recordings already present.")
