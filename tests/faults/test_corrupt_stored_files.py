"""Corrupt stored files: a recording whose stored audio no longer decodes fails with a message a
clinician can act on, one whose stored bytes were damaged at rest (no longer decrypt) is retried as
a storage fault and then fails, and the rest of their batch is analysed as usual; a real worker
records exactly one result each, which the patient's open page shows. A storage failure is taken as
transient and sends the diagnostic back to the queue with a delay (the task's steps run in this
process for that one)."""

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction

from diagnostics import inference
from diagnostics.failures import FAILURE_MESSAGES
from diagnostics.models import DiagnosticStatus
from tests.diagnostics.inference_steps import (
    all_finished,
    broker_client,
    inference_worker,
    queued_messages,
    submit,
    wait_for,
)
from tests.factories import PatientFactory
from tests.faults.live_page import Clinic
from tests.faults.outages import Tally
from tests.faults.storage_faults import overwrite

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


@pytest.mark.slow
def test_corrupt_files_fail_alone_with_one_result_each_and_the_page_shows_them(
    client, clinician, site, production_model, worker_env, media_root, tmp_path, request
):
    tally = Tally("corrupt stored files")
    patient = PatientFactory(site=site)
    with transaction.atomic():  # one commit: one batch
        undecodable, damaged, *fine = [submit(patient, clinician, seed=160 + i) for i in range(4)]
    tally.accept(undecodable, damaged, *fine)
    replace_object(undecodable.recording.storage_key, b"RIFF\x00\x00 no longer a wav file")
    overwrite(media_root / damaged.recording.storage_key, b"\x00" * 4096)  # at rest, behind us
    worker = inference_worker(worker_env, tmp_path)
    try:
        with Clinic(worker_env, tmp_path, client=client, clinician=clinician, patient=patient,
                    tally=tally) as clinic:  # fmt: skip
            wait_for(all_finished(*fine), within=60, what="the rest analysed", logs=[worker])
            wait_for(all_finished(undecodable, damaged), within=60, what="the corrupt ones ended",
                     logs=[worker])  # fmt: skip
            clinic.page.wait_until_final(tally.accepted, within=30)
    finally:
        worker.stop()

    for diagnostic in (undecodable, damaged, *fine):
        diagnostic.refresh_from_db()
    tally.finish(request, workers=[worker], page=clinic.page,
                 damaged_attempts=damaged.attempts)  # fmt: skip
    assert undecodable.status == DiagnosticStatus.FAILED
    assert undecodable.error == FAILURE_MESSAGES["undecodable"]
    assert "Please record it again" in undecodable.error
    assert damaged.status == DiagnosticStatus.FAILED and damaged.attempts > 1  # retried first
    for diagnostic in fine:
        assert diagnostic.status == DiagnosticStatus.SUCCEEDED, diagnostic.error
        assert diagnostic.attempts == 1


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
