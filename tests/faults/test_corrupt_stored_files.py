"""A recording the analysis cannot read: undecodable audio fails with a message a clinician can act
on; a storage failure is taken as transient and sends the diagnostic back to the queue with a
delay.
The rest of the batch is analysed as usual. (The task's steps run in this process.)"""

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction

from diagnostics import inference
from diagnostics.failures import FAILURE_MESSAGES
from diagnostics.models import DiagnosticStatus
from tests.diagnostics.inference_steps import broker_client, queued_messages, submit
from tests.factories import PatientFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def batch(clinician, site, production_model, settings, tmp_path, empty_broker):
    """Three waiting diagnostics; their upload's task message is dropped (no worker here)."""
    settings.MODEL_CACHE_DIR = tmp_path / "model-cache"
    patient = PatientFactory(site=site)
    with transaction.atomic():
        diagnostics = [submit(patient, clinician, seed=160 + i) for i in range(3)]
    assert len(queued_messages()) == 1  # one message for the three: a batch takes them all
    broker_client().delete("inference")
    return diagnostics


def analyse_in_this_process(diagnostics) -> None:
    claimed = inference.claim(diagnostic_id=diagnostics[0].pk, task_id="task-1")
    assert sorted(d.pk for d in claimed) == sorted(d.pk for d in diagnostics)
    inference.analyse(claimed)


def replace_object(key: str, content: bytes) -> None:
    """Store other bytes under ``key`` the way the storage stores them (encrypted at rest)."""
    default_storage.delete(key)
    assert default_storage.save(key, ContentFile(content)) == key


def test_undecodable_audio_fails_with_a_message_to_record_again(batch):
    broken, *fine = batch
    replace_object(broken.recording.storage_key, b"RIFF\x00\x00 no longer a wav file")

    analyse_in_this_process(batch)

    broken.refresh_from_db()
    assert broken.status == DiagnosticStatus.FAILED
    assert broken.error == FAILURE_MESSAGES["undecodable"]
    assert "Please record it again" in broken.error
    for diagnostic in fine:
        diagnostic.refresh_from_db()
        assert diagnostic.status == DiagnosticStatus.SUCCEEDED
        assert diagnostic.timings["batch_size"] == 2


def test_a_recording_storage_cannot_serve_goes_back_to_the_queue_with_a_delay(batch, media_root):
    unavailable, *fine = batch
    (media_root / unavailable.recording.storage_key).unlink()

    analyse_in_this_process(batch)

    unavailable.refresh_from_db()
    assert unavailable.status == DiagnosticStatus.QUEUED and unavailable.error == ""
    assert unavailable.attempts == 1  # counted: a recording that never comes back fails in the end
    [message] = queued_messages()
    assert message["argsrepr"] == f"({unavailable.pk},)" and message["eta"] is not None
    for diagnostic in fine:
        diagnostic.refresh_from_db()
        assert diagnostic.status == DiagnosticStatus.SUCCEEDED
