"""The inference task is sent only when the upload's transaction commits, never from inside it."""

import pytest
from django.db import transaction

from diagnostics.models import Diagnostic
from media_assets.models import Recording
from tests.diagnostics.inference_steps import queued_messages, submit
from tests.factories import PatientFactory

pytestmark = pytest.mark.django_db(transaction=True)


class LaterStepFailed(Exception):
    pass


def test_an_error_after_submitting_inside_a_transaction_sends_no_task(
    clinician, site, empty_broker
):
    patient = PatientFactory(site=site)

    with pytest.raises(LaterStepFailed), transaction.atomic():
        submit(patient, clinician, seed=5)
        assert queued_messages() == []  # nothing is sent while the transaction is open
        raise LaterStepFailed

    assert not Diagnostic.objects.exists() and not Recording.objects.exists()
    assert queued_messages() == []


def test_the_same_submission_sends_its_task_once_it_commits(clinician, site, empty_broker):
    patient = PatientFactory(site=site)

    with transaction.atomic():
        diagnostic = submit(patient, clinician, seed=5)
        assert queued_messages() == []

    assert [(m["task"], m["argsrepr"]) for m in queued_messages()] == [
        ("diagnostics.tasks.run_diagnostic", f"({diagnostic.pk},)")
    ]
