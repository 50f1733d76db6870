from django.core.management.base import BaseCommand

from portal.roles import provision_roles


class Command(BaseCommand):
    help = "Create or update the role groups and their permissions (idempotent)."

    def handle(self, *args, **options):
        groups = provision_roles()
        if options["verbosity"]:
            self.stdout.write(f"Provisioned {len(groups)} role groups.")
