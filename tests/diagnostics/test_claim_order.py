"""Claims take waiting first attempts urgent first, then oldest first, and stay an index scan in
that order (no sort of the whole queue), whatever the message that started the task."""

import pytest
from django.db import connection

from diagnostics import inference
from diagnostics.inference.claims import _first_attempts_waiting
from tests.factories_clinical import DiagnosticFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_claim_takes_the_urgent_ones_first_then_the_oldest(patient, settings, empty_broker):
    settings.INFERENCE_BATCH_SIZE = 2
    routine = [DiagnosticFactory(recording__patient=patient) for _ in range(3)]
    urgent = DiagnosticFactory(recording__patient=patient, urgent=True)

    claimed = inference.claim(diagnostic_id=routine[0].pk, task_id="task-1")

    assert [d.pk for d in claimed] == [urgent.pk, routine[0].pk]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's plan")
def test_the_claim_reads_the_queue_index_in_order_without_sorting(patient):
    for _ in range(3):
        DiagnosticFactory(recording__patient=patient)
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")
        try:
            plan = _first_attempts_waiting()[:33].explain()
        finally:
            cursor.execute("RESET enable_seqscan")

    assert "diagnostic_queue_idx" in plan
    assert "Sort" not in plan
