from django.conf import settings
from django.core.management.base import BaseCommand

from portal.demo import seed_demo


class Command(BaseCommand):
    help = "Create demo sites, users and invented patients if the database has none."

    def handle(self, *args, **options):
        result = seed_demo(password=settings.DEMO_PASSWORD)
        if not result.created:
            self.stdout.write("Demo data already present.")
            return
        self.stdout.write(self.style.SUCCESS("Created demo sites, users and patients."))
        if result.generated_password:
            self.stdout.write(
                self.style.WARNING(
                    f"Demo password (shown only now; set DEMO_PASSWORD to choose one): "
                    f"{result.password}"
                )
            )
