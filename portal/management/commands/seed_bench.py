from django.core.management.base import BaseCommand, CommandError

from portal import seeding


class Command(BaseCommand):
    help = (
        "Fill PostgreSQL with synthetic sites, patients, recordings and diagnostics at benchmark "
        "scale (default 100,000 patients, 1,000,000 diagnostics). Empties the clinical tables "
        "first: never run it on a database holding real data."
    )

    def add_arguments(self, parser):
        parser.add_argument("--sites", type=int, default=4)
        parser.add_argument("--patients", type=int, default=100_000)
        parser.add_argument("--diagnostics", type=int, default=1_000_000)
        parser.add_argument("--yes", action="store_true", help="Do not ask before emptying.")

    def handle(self, *args, sites, patients, diagnostics, yes, **options):
        if min(sites, patients, diagnostics) < 1:
            raise CommandError("--sites, --patients and --diagnostics must be at least 1.")
        if not yes and input("This empties every clinical table. Type 'yes' to go on: ") != "yes":
            raise CommandError("Nothing was changed.")
        try:
            seconds = seeding.seed(sites=sites, patients=patients, diagnostics=diagnostics,
                                   log=self.stdout.write)  # fmt: skip
        except RuntimeError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(self.style.SUCCESS(f"Seeded in {seconds:.0f} s."))
