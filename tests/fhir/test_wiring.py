"""How results and reviews reach the delivery task, and the example bundle of the docs."""

import json
import re
from io import StringIO

import pytest
from django.core.management import call_command
from fhir.resources.R4B import get_fhir_model_class

from diagnostics import signals
from diagnostics.models import Diagnostic
from diagnostics.reviews import Decision, review_diagnostic
from tests.diagnostics.inference_steps import queued_messages
from tests.factories import UserFactory
from tests.factories_clinical import RecordingFactory, succeeded
from tests.processes import ROOT

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("empty_broker")]


def _review(patient, capture):
    diagnostic = succeeded(recording=RecordingFactory(patient=patient))
    with capture(execute=True):
        review_diagnostic(diagnostic=diagnostic, actor=UserFactory(), decision=Decision.CONFIRM)
    return diagnostic


def test_nothing_is_sent_without_a_fhir_server(
    settings, linked_patient, django_capture_on_commit_callbacks
):
    settings.FHIR_BASE_URL = ""

    _review(linked_patient, django_capture_on_commit_callbacks)
    signals.results_recorded.send(sender=Diagnostic, diagnostics=list(Diagnostic.objects.all()))

    assert queued_messages(queue="default") == []


def test_a_committed_review_sends_the_push_task(
    settings, linked_patient, django_capture_on_commit_callbacks
):
    settings.FHIR_BASE_URL = "http://127.0.0.1:9/fhir"

    diagnostic = _review(linked_patient, django_capture_on_commit_callbacks)

    (message,) = queued_messages(queue="default")
    assert message["task"] == "portal.fhir.tasks.push"
    assert message["argsrepr"] == repr(([diagnostic.pk], "review"))


def test_the_bundle_command_prints_a_valid_bundle(clinician, linked_patient):
    diagnostic = succeeded(recording=RecordingFactory(patient=linked_patient))
    review_diagnostic(
        diagnostic=diagnostic, actor=clinician, decision=Decision.CORRECT, label="healthy"
    )
    out = StringIO()

    call_command("fhir_bundle", stdout=out)

    bundle = get_fhir_model_class("Bundle").model_validate(json.loads(out.getvalue()))
    kinds = [entry.resource.get_resource_type() for entry in bundle.entry]
    assert kinds == ["Patient", "DiagnosticReport", "Observation", "Observation", "Device", "Media"]


def test_the_example_bundle_in_the_docs_is_valid_fhir():
    docs = (ROOT / "docs" / "integration.md").read_text()
    examples = re.findall(r"```json\n(.*?)\n```", docs, re.S)
    (example,) = [text for text in examples if '"resourceType": "Bundle"' in text]

    get_fhir_model_class("Bundle").model_validate(json.loads(example))
