from django.conf import settings
from django.core.management.base import BaseCommand

from portal.demo import seed_demo


class Command(BaseCommand):
    help = "Create demo sites, users and invented patients if the database has none."

    def handle(self, *args, **options):
        result = seed_demo(password=settings.DEMO_PASSWORD, totp_key=settings.DEMO_TOTP_KEY)
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
        self.stdout.write(
            self.style.WARNING(
                "Staff (admin, siteadmin) also need a code from an authenticator app for /admin/. "
                f"Add this key to the app (shown only now): {result.totp_key}"
            )
        )
