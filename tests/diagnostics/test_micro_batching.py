"""Under load a worker analyses waiting diagnostics together, up to INFERENCE_BATCH_SIZE at a time,
through the model in calls of INFERENCE_MODEL_BATCH (the next call's audio loaded and the last
call's results recorded while the model works), one batch after another in the same task, and each
of them still gets exactly one result."""

import pytest
from django.db import transaction

from diagnostics.models import DiagnosticStatus
from tests.diagnostics.inference_steps import (
    all_finished,
    broker_drained,
    inference_worker,
    results_announced,
    submit,
    tasks_received,
    wait_for,
)
from tests.factories import PatientFactory

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_diagnostics_waiting_when_the_worker_starts_are_analysed_in_capped_batches(
    clinician, site, production_model, worker_env, tmp_path
):
    patient = PatientFactory(site=site)
    with transaction.atomic():
        diagnostics = [submit(patient, clinician, seed=100 + i) for i in range(6)]
    worker = inference_worker(
        {**worker_env, "INFERENCE_BATCH_SIZE": "4", "INFERENCE_MODEL_BATCH": "3"}, tmp_path
    )
    try:
        wait_for(all_finished(*diagnostics), within=90, what="all six analysed", logs=[worker])
        wait_for(broker_drained(), within=30, what="every task acknowledged", logs=[worker])
    finally:
        worker.stop()

    for diagnostic in diagnostics:
        diagnostic.refresh_from_db()
        assert diagnostic.status == DiagnosticStatus.SUCCEEDED and diagnostic.attempts == 1
        assert results_announced(worker, diagnostic=diagnostic) == 1
    # The first task took the three oldest others with it and ran them through the model as 3
    # and 1; while the 1 ran, it claimed the fifth and sixth and went on with them.
    assert [d.timings["batch_size"] for d in diagnostics] == [3, 3, 3, 1, 2, 2]
    assert len({d.started_at for d in diagnostics[:4]}) == 1
    assert len({d.task_id for d in diagnostics}) == 1
    # One message for the uploads; the one the first claim passed on found its batch taken.
    assert tasks_received(worker) == 2
