"""A batch costs the worker the same database queries whatever its size: the claim reads only the
columns the analysis uses, and nothing it left out is then read back one row at a time."""

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from diagnostics import inference
from diagnostics.models import DiagnosticStatus
from tests.diagnostics.inference_steps import submit
from tests.factories import PatientFactory

pytestmark = pytest.mark.django_db(transaction=True)


def queries_for_a_batch(patient, clinician, seeds) -> int:
    with transaction.atomic():
        diagnostics = [submit(patient, clinician, seed=seed) for seed in seeds]
    with CaptureQueriesContext(connection) as queries:
        claimed = inference.claim(diagnostic_id=diagnostics[0].pk, task_id=f"task-{seeds[0]}")
        inference.analyse(claimed)
    assert len(claimed) == len(seeds)
    for diagnostic in diagnostics:
        diagnostic.refresh_from_db()
        assert diagnostic.status == DiagnosticStatus.SUCCEEDED
    return len(queries)


def test_a_batch_of_six_costs_the_queries_of_a_batch_of_two(
    clinician, site, production_model, settings, tmp_path, empty_broker
):
    settings.MODEL_CACHE_DIR = tmp_path / "model-cache"
    patient = PatientFactory(site=site)
    queries_for_a_batch(patient, clinician, [400])  # the model loaded, the first queries made

    two = queries_for_a_batch(patient, clinician, [401, 402])
    six = queries_for_a_batch(patient, clinician, range(403, 409))

    assert six == two
