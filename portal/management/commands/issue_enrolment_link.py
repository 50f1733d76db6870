from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from portal.core import enrolment


class Command(BaseCommand):
    help = (
        "Issue a one-time link that enrols an authenticator app for USERNAME (the first device of "
        "an account that needs a second factor). Pass it to the user by a channel you trust."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument(
            "--base-url", default="", help="Prefix the path with this, e.g. https://portal.example"
        )

    def handle(self, *args, username, base_url, **options):
        user = get_user_model().objects.filter(username=username, is_active=True).first()
        if user is None:
            raise CommandError(f"No active user named {username!r}.")
        path = enrolment.issue_link(user=user)
        self.stdout.write(
            f"Enrolment link for {username} (works once): {base_url.rstrip('/')}{path}"
        )
