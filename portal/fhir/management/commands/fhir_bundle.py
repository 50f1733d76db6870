"""Print one diagnostic's FHIR resources as a Bundle, as the read API serves them (the example
in docs/integration.md is made with it from the demo data)."""

import json

from django.core.management.base import BaseCommand, CommandError

from diagnostics.models import Diagnostic, DiagnosticStatus
from portal.fhir import resources, selectors


class Command(BaseCommand):
    help = "Print a diagnostic's report and what it refers to as a FHIR R4 Bundle (collection)."

    def add_arguments(self, parser):
        parser.add_argument("--diagnostic", type=int, help="default: the latest reviewed result")
        parser.add_argument(
            "--base", default="http://127.0.0.1:8000/fhir/R4", help="the read API's address"
        )

    def handle(self, *args, diagnostic=None, base="", **options):
        found = Diagnostic.objects.filter(status=DiagnosticStatus.SUCCEEDED).select_related(
            "patient", "recording", "model_version", "reviewed_by"
        )
        if diagnostic is None:
            found = found.exclude(review_label="").exclude(reviewed_by=None).order_by("-pk")
        else:
            found = found.filter(pk=diagnostic)
        chosen = found.first()
        if chosen is None:
            raise CommandError("No such finished diagnostic (run `make run` for the demo data).")
        self.stdout.write(json.dumps(bundle(chosen, base), indent=2, ensure_ascii=False))


def bundle(diagnostic: Diagnostic, base: str) -> dict:
    """The report, its observations, patient, device and media; ``fullUrl`` under ``base``, so
    the entries' relative references (``Patient/12``) resolve inside the bundle."""
    refs = selectors.refs(diagnostic)
    version, recording = diagnostic.model_version, diagnostic.recording
    members = [
        resources.patient_resource(diagnostic.patient),
        selectors.report_resource(diagnostic),
        *selectors.observation_resources(diagnostic),
        resources.device_resource(version, id=str(version.pk)),
        resources.media_resource(recording, refs, id=str(recording.pk)),
    ]
    return resources.validated({
        "resourceType": "Bundle", "type": "collection",
        "entry": [{"fullUrl": f"{base.rstrip('/')}/{m['resourceType']}/{m['id']}", "resource": m}
                  for m in members],
    })  # fmt: skip
