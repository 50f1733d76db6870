"""``python manage.py import_dataset {coughvid,coswara} DIR [--analyse]``: a public data set's
subjects, recordings and labels as patients, recordings and reviewed truth of a research site."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from diagnostics.dataset_import import DATASETS, ImportReport, import_dataset
from diagnostics.ml.datasets import DatasetLayoutError


class Command(BaseCommand):
    help = (
        "Import COUGHVID or Coswara from DIR: one research site per data set, a patient per "
        "subject, its recordings through the upload checks, its labels as reviewed truth. "
        "Re-running is harmless. --analyse also queues the recordings for the model."
    )

    def add_arguments(self, parser):
        parser.add_argument("dataset", choices=sorted(DATASETS))
        parser.add_argument("directory", type=Path)
        parser.add_argument(
            "--analyse",
            action="store_true",
            help="queue the imported recordings for the production model, as uploads are "
            "(default: imported as training truth only, nothing sent to the inference queue)",
        )

    def handle(self, *args, dataset, directory, analyse, **options):
        try:
            report = import_dataset(
                dataset=dataset, root=directory, analyse=analyse, progress=self._progress
            )
        except DatasetLayoutError as error:
            raise CommandError(str(error)) from error
        self.stderr.write("")
        self._report(report)

    def _progress(self, done: int, total: int) -> None:
        width = 30
        filled = width * done // total
        self.stderr.write(
            f"\r  [{'#' * filled}{'.' * (width - filled)}] {done}/{total} recordings", ending=""
        )
        self.stderr.flush()

    def _report(self, report: ImportReport) -> None:
        write = self.stdout.write
        write(f"{report.dataset}: {report.patients_created} patients created")
        write(
            f"recordings: {report.recordings_created} imported, "
            f"{report.recordings_existing} already there"
        )
        write(f"labels recorded as reviewed truth: {report.labels_recorded}")
        write(f"queued for analysis: {report.analyses_requested}")
        for title, skipped in (
            ("subjects skipped", report.skipped_subjects),
            ("recordings skipped", report.skipped_recordings),
        ):
            write(f"{title}: {sum(skipped.values())}")
            for reason, count in sorted(skipped.items()):
                write(f"  {reason}: {count}")
