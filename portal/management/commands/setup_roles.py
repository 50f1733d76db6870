from django.core.management.base import BaseCommand

from portal.core.roles import GROUP_NAMES, provision_after_migrate


class Command(BaseCommand):
    help = "Create or update the role groups and their permissions (idempotent)."

    def handle(self, *args, **options):
        provision_after_migrate()
        if options["verbosity"]:
            self.stdout.write(f"Provisioned {len(GROUP_NAMES)} role groups.")
