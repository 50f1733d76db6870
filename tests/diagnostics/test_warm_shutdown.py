"""An inference worker told to stop (SIGTERM to its main process, as Kubernetes sends it in a
rolling restart) finishes the batch in hand and claims no more: the diagnostics still waiting keep
their broker message, so the next worker takes them at once instead of at the sweeper's next
pass, and nothing it claimed is left running behind it."""

import signal

import pytest
from django.db import transaction

from diagnostics.models import DiagnosticStatus
from tests.diagnostics.inference_steps import (
    held,
    inference_worker,
    mark_fault,
    queued_messages,
    release,
    results_announced,
    submit,
    unacked_messages,
    wait_for,
)
from tests.factories import PatientFactory

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180), pytest.mark.django_db(transaction=True)]


def test_a_worker_shutting_down_finishes_its_batch_and_leaves_the_rest_with_a_message(
    clinician, site, production_model, worker_env, fault_dir, tmp_path
):
    patient = PatientFactory(site=site)
    mark_fault(fault_dir, "hold", seed=600)
    with transaction.atomic():  # five waiting, one message: the first claim takes two
        waiting = [submit(patient, clinician, seed=600 + i) for i in range(5)]
    # Without the shutdown, the task would go on to the next batch for up to a minute.
    env = {**worker_env, "INFERENCE_BATCH_SIZE": "2", "INFERENCE_DRAIN_S": "60"}
    worker = inference_worker(env, tmp_path)
    try:
        wait_for(held(fault_dir, waiting[0]), within=90, what="the batch is held", logs=[worker])
        worker.proc.send_signal(signal.SIGTERM)  # the main process alone
        wait_for(lambda: "Warm shutdown" in worker.output(), within=10,
                 what="the warm shutdown began", logs=[worker])  # fmt: skip
        release(fault_dir, waiting[0])
        worker.proc.wait(timeout=60)
    finally:
        worker.stop()

    assert worker.proc.returncode == 0, worker.output()[-3000:]
    for diagnostic in waiting:
        diagnostic.refresh_from_db()
    batch, left = waiting[:2], waiting[2:]
    for diagnostic in batch:
        assert diagnostic.status == DiagnosticStatus.SUCCEEDED, diagnostic.error
        assert results_announced(worker, diagnostic=diagnostic) == 1
    for diagnostic in left:
        assert (diagnostic.status, diagnostic.attempts, diagnostic.task_id) == (
            DiagnosticStatus.QUEUED, 0, ""
        )  # fmt: skip
    # The claim passed a message on for the oldest left waiting; the batch's own was acknowledged.
    messages = queued_messages()
    assert [m["task"] for m in messages] == ["diagnostics.tasks.run_diagnostic"]
    assert str(left[0].pk) in messages[0]["argsrepr"]
    assert unacked_messages() == 0
