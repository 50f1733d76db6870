from django.conf import settings
from django.core.management.base import BaseCommand

from portal.demo import demo_totp_key, seed_demo

SECOND_FACTOR = (
    "admin and siteadmin sign in with a one-time code from an authenticator app as well as the "
    "password (sign-in page, admin and API); clinician, clinician2 and researcher too where "
    "OTP_REQUIRED_ROLES names their role (production does). "
)


class Command(BaseCommand):
    help = "Create demo sites, users and invented patients if the database has none."

    def handle(self, *args, **options):
        result = seed_demo(password=settings.DEMO_PASSWORD, totp_key=settings.DEMO_TOTP_KEY)
        if not result.created:
            self.stdout.write("Demo data already present.")
            if settings.DEMO_TOTP_KEY:
                key = demo_totp_key(settings.DEMO_TOTP_KEY)
                self.stdout.write(SECOND_FACTOR + f"Authenticator key (DEMO_TOTP_KEY): {key}")
            else:
                self.stdout.write(
                    SECOND_FACTOR + "Use the authenticator key printed when the demo was created."
                )
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
                SECOND_FACTOR + f"Add this key to the app (shown only now): {result.totp_key}"
            )
        )
