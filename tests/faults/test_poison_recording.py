"""A recording whose analysis kills its worker every time fails after INFERENCE_MAX_ATTEMPTS
(the database counts the attempts the broker cannot), and the diagnostics queued with it succeed:
each with exactly one result, which the patient's open page shows."""

import pytest
from django.conf import settings
from django.db import transaction

from diagnostics.models import DiagnosticStatus
from tests.diagnostics.inference_steps import (
    all_finished,
    broker_drained,
    inference_worker,
    mark_fault,
    submit,
    wait_for,
)
from tests.factories import PatientFactory
from tests.faults.live_page import Clinic
from tests.faults.outages import Tally

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def analyse_one_commit(env, tmp_path, *, client, clinician, patient, tally, seeds):
    """Submit a cough per seed in one commit (the first task batches them all) with a worker and
    the patient's page running; once all finished and shown: the diagnostics, the stopped worker
    and the page."""
    worker = inference_worker(env, tmp_path)
    try:
        with Clinic(env, tmp_path, client=client, clinician=clinician, patient=patient,
                    tally=tally) as clinic:  # fmt: skip
            with transaction.atomic():
                diagnostics = [submit(patient, clinician, seed=seed) for seed in seeds]
            tally.accept(*diagnostics)
            wait_for(
                all_finished(*diagnostics), within=150, what="all finished within 150 s",
                logs=[worker],
            )  # fmt: skip
            wait_for(broker_drained(), within=30, what="every task acknowledged", logs=[worker])
            clinic.page.wait_until_final(tally.accepted, within=30)
        assert worker.proc.poll() is None  # no crash loop: the worker is still serving
    finally:
        worker.stop()
    return diagnostics, worker, clinic.page


def test_a_task_that_always_kills_its_worker_ends_failed_and_the_rest_of_the_queue_succeeds(
    client, clinician, site, production_model, worker_env, fault_dir, tmp_path, request
):
    max_attempts = settings.INFERENCE_MAX_ATTEMPTS
    env = {**worker_env, "INFERENCE_MAX_ATTEMPTS": str(max_attempts)}
    tally = Tally("poison recording")
    patient = PatientFactory(site=site)
    mark_fault(fault_dir, "poison", seed=90)
    (poison, *others), worker, page = analyse_one_commit(
        env, tmp_path, client=client, clinician=clinician, patient=patient, tally=tally,
        seeds=[90, 91, 92, 93],  # the poison's first task batches the others
    )  # fmt: skip

    tally.finish(request, workers=[worker], page=page,
                 kills=worker.output().count("exited with 'signal 9 (SIGKILL)'"))  # fmt: skip
    poison.refresh_from_db()
    assert poison.status == DiagnosticStatus.FAILED
    assert "could not be analysed after several attempts" in poison.error
    assert poison.attempts == max_attempts
    assert worker.output().count("exited with 'signal 9 (SIGKILL)'") == max_attempts
    for diagnostic in others:
        diagnostic.refresh_from_db()
        assert diagnostic.status == DiagnosticStatus.SUCCEEDED, diagnostic.error
        assert diagnostic.attempts == 2  # killed once as the poison's batch mate, never again


def test_a_worker_killed_in_a_batch_it_went_on_to_loses_none_of_the_batches_it_held(
    client, clinician, site, production_model, worker_env, fault_dir, tmp_path, request
):
    # Batches of 2 in one stream: the task analyses its own batch, goes on to the next while the
    # model runs it, and dies setting out with the third, which holds the poison. At that moment
    # the second batch's results are not recorded yet.
    max_attempts = settings.INFERENCE_MAX_ATTEMPTS
    env = {**worker_env, "INFERENCE_BATCH_SIZE": "2"}
    tally = Tally("poison recording (batch gone on to)")
    patient = PatientFactory(site=site)
    mark_fault(fault_dir, "poison", seed=99)
    (*healthy, poison), worker, page = analyse_one_commit(
        env, tmp_path, client=client, clinician=clinician, patient=patient, tally=tally,
        seeds=[95, 96, 97, 98, 99],
    )  # fmt: skip

    tally.finish(request, workers=[worker], page=page)

    poison.refresh_from_db()
    assert poison.status == DiagnosticStatus.FAILED and poison.attempts == max_attempts
    for diagnostic in healthy:
        diagnostic.refresh_from_db()
        assert diagnostic.status == DiagnosticStatus.SUCCEEDED, diagnostic.error
    # The first batch was recorded before the task died; the second, still in the model then,
    # went back to the queue and ran again, each alone.
    assert [d.attempts for d in healthy] == [1, 1, 2, 2]
