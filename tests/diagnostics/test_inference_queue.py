"""First attempts get one waiting message between them, not one each: an upload sends its message
only when none waits; each task passes the next one on before it analyses; the sweeper sends what a
lost message leaves waiting, and no more. (The task's steps run in this process; the worker tests
run them in a real worker.)"""

import ast
import time
from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from prometheus_client import REGISTRY

from diagnostics import inference, sweeper
from diagnostics.models import Diagnostic, DiagnosticStatus, Label
from portal.core import dispatch
from tests.diagnostics.inference_steps import broker_client, queued_messages, submit

pytestmark = pytest.mark.django_db(transaction=True)


def message_ids() -> list[int]:
    """The diagnostics the waiting inference messages are for, once this process sent them all."""
    dispatch.flush()
    return [int(m["argsrepr"].strip("(,)")) for m in queued_messages()]


def take_message() -> int:
    """What a worker does with the next message: its diagnostic id, the message gone."""
    [diagnostic_id] = message_ids()
    broker_client().delete("inference")
    return diagnostic_id


def is_claim(sql: str) -> bool:
    """A claim of waiting first attempts: they are read skipping rows another claim holds."""
    return "SKIP LOCKED" in sql


def is_results_write(sql: str) -> bool:
    """A model call's results: one statement that updates the rows from the values it carries."""
    return sql.lstrip().startswith("WITH") and "UPDATE" in sql and "RETURNING" in sql


def model_calls_finished() -> float:
    """How many model calls this process has finished (the worker's Prometheus histogram)."""
    return REGISTRY.get_sample_value("portal_inference_batch_size_count") or 0.0


@contextmanager
def at_each_results_write(look):
    """Call ``look()`` just before each results write reaches the database (on the task's
    connection), and keep what it returns."""
    seen = []

    def wrapper(execute, sql, params, many, context):
        if is_results_write(sql):
            seen.append(look())
        return execute(sql, params, many, context)

    with connection.execute_wrapper(wrapper):
        yield seen


@pytest.fixture
def model_here(production_model, settings, tmp_path):
    settings.MODEL_CACHE_DIR = tmp_path / "model-cache"
    return production_model


def test_uploads_while_a_message_waits_send_none_of_their_own(clinician, patient, empty_broker):
    first = submit(patient, clinician, seed=301)
    others = [submit(patient, clinician, seed=302 + i) for i in range(3)]

    assert message_ids() == [first.pk]
    assert all(d.status == DiagnosticStatus.QUEUED for d in [first, *others])


def test_each_batch_passes_the_next_message_on_before_it_analyses(
    clinician, patient, empty_broker, model_here, settings
):
    settings.INFERENCE_BATCH_SIZE = 2
    settings.INFERENCE_DRAIN_S = 0  # each task stops after its own batch
    with transaction.atomic():
        diagnostics = [submit(patient, clinician, seed=310 + i) for i in range(5)]

    tasks = 0
    with at_each_results_write(message_ids) as waiting_during_analysis:
        while message_ids():
            inference.run_diagnostic(diagnostic_id=take_message(), task_id=f"task-{tasks}")
            tasks += 1

    assert tasks == 3  # 2 + 2 + 1: one message a batch
    ids = [d.pk for d in diagnostics]
    # While a batch is analysed, the next batch's message already waits for another worker.
    assert waiting_during_analysis == [[ids[2]], [ids[4]], []]
    assert set(Diagnostic.objects.values_list("status", flat=True)) == {DiagnosticStatus.SUCCEEDED}
    # The chain has ended and cleared its mark: the next upload sends its own message.
    later = submit(patient, clinician, seed=320)
    assert message_ids() == [later.pk]


def test_an_upload_committed_while_a_message_waits_is_taken_by_that_messages_chain(
    clinician, patient, empty_broker, model_here, settings
):
    settings.INFERENCE_BATCH_SIZE = 1  # the task takes only its own diagnostic
    settings.INFERENCE_DRAIN_S = 0
    first = submit(patient, clinician, seed=330)
    meanwhile = submit(patient, clinician, seed=331)  # the first one's message still waits
    assert message_ids() == [first.pk]

    inference.run_diagnostic(diagnostic_id=take_message(), task_id="task-a")
    assert message_ids() == [meanwhile.pk]  # passed on, not stranded
    inference.run_diagnostic(diagnostic_id=take_message(), task_id="task-b")

    assert message_ids() == []
    for diagnostic in (first, meanwhile):
        diagnostic.refresh_from_db()
        assert diagnostic.status == DiagnosticStatus.SUCCEEDED and diagnostic.attempts == 1


def test_a_task_goes_on_with_the_next_batch_claimed_while_the_model_runs_the_last_call(
    clinician, patient, empty_broker, model_here, settings
):
    settings.INFERENCE_BATCH_SIZE = 2
    with transaction.atomic():
        diagnostics = [submit(patient, clinician, seed=370 + i) for i in range(5)]

    with CaptureQueriesContext(connection) as queries:
        inference.run_diagnostic(diagnostic_id=take_message(), task_id="task-1")

    for diagnostic in diagnostics:
        diagnostic.refresh_from_db()
        assert diagnostic.status == DiagnosticStatus.SUCCEEDED and diagnostic.task_id == "task-1"
    assert [d.timings["batch_size"] for d in diagnostics] == [2, 2, 2, 2, 1]
    steps = [
        "claim" if is_claim(q["sql"]) else "record"
        for q in queries.captured_queries
        if is_claim(q["sql"]) or is_results_write(q["sql"])
    ]
    # Each next batch was claimed while its predecessor's (last) call was with the model, before
    # that call's results were written, and the last one, which left none waiting, was not
    # followed by a claim.
    assert steps == ["claim", "claim", "record", "claim", "record", "record"]
    # The message the first claim passed on finds its batch done; it looks, and sends none.
    [passed_on] = message_ids()
    inference.run_diagnostic(diagnostic_id=take_message(), task_id="task-2")
    assert passed_on == diagnostics[2].pk and message_ids() == []


def test_the_model_has_its_next_call_before_the_last_calls_results_are_recorded(
    clinician, patient, empty_broker, model_here, settings
):
    settings.INFERENCE_BATCH_SIZE = 4
    settings.INFERENCE_MODEL_BATCH = 2
    with transaction.atomic():
        diagnostics = [submit(patient, clinician, seed=380 + i) for i in range(8)]
    before = model_calls_finished()

    def next_call_finishes_meanwhile():
        """Whether the model finishes the call after the one about to be recorded, while the
        write waits: it can only if that call was handed to the model before the write."""
        written = len(seen)
        wanted = before + min(written + 2, 4)  # the calls up to the next one; there are four
        deadline = time.monotonic() + 5
        while model_calls_finished() < wanted and time.monotonic() < deadline:
            time.sleep(0.01)
        return model_calls_finished() >= wanted

    with at_each_results_write(next_call_finishes_meanwhile) as seen:
        inference.run_diagnostic(diagnostic_id=take_message(), task_id="task-1")

    # Each call went to the model before the one ahead of it was recorded, within a batch and
    # across two (the second batch's first call was on its way before the first batch's last
    # call was recorded).
    assert seen == [True, True, True, True]
    assert model_calls_finished() - before == 4
    ids = [d.pk for d in diagnostics]
    assert set(Diagnostic.objects.values_list("status", flat=True)) == {DiagnosticStatus.SUCCEEDED}
    assert [Diagnostic.objects.get(pk=pk).timings["batch_size"] for pk in ids] == [2] * 8
    # The recommender and the pictures hear of the results once a batch, not once a call.
    dispatch.flush()
    indexed = sorted(
        ast.literal_eval(m["argsrepr"])[0]
        for m in queued_messages(queue="recommender")
        if m["task"] == "recommender.tasks.index_diagnostics"
    )
    assert indexed == [ids[:4], ids[4:]]
    pictured = sorted(
        ast.literal_eval(m["argsrepr"])[0]
        for m in queued_messages(queue="maintenance")
        if m["task"] == "diagnostics.tasks.render_spectrograms"
    )
    assert pictured == [
        [d.recording_id for d in diagnostics[:4]],
        [d.recording_id for d in diagnostics[4:]],
    ]


def test_a_redelivered_task_sends_back_the_batch_it_died_in_after_its_own_was_done(
    clinician, patient, empty_broker
):
    with transaction.atomic():
        own, *later = [submit(patient, clinician, seed=380 + i) for i in range(3)]
    broker_client().delete("inference")
    Diagnostic.objects.filter(pk=own.pk).update(
        status=DiagnosticStatus.SUCCEEDED, label=Label.HEALTHY, attempts=1
    )
    Diagnostic.objects.filter(pk__in=[d.pk for d in later]).update(
        status=DiagnosticStatus.RUNNING, task_id="dead-task", attempts=1
    )

    assert inference.claim(diagnostic_id=own.pk, task_id="dead-task") == []

    assert sorted(message_ids()) == sorted(d.pk for d in later)  # a message each: run alone
    for diagnostic in later:
        diagnostic.refresh_from_db()
        assert (diagnostic.status, diagnostic.task_id) == (DiagnosticStatus.QUEUED, "")


def test_the_sweeper_sends_one_message_for_first_attempts_whose_message_was_lost(
    clinician, patient, empty_broker
):
    with transaction.atomic():
        diagnostics = [submit(patient, clinician, seed=340 + i) for i in range(3)]
    broker_client().delete("inference")  # lost; the mark says a message waits, wrongly
    Diagnostic.objects.update(queued_at=timezone.now() - timedelta(minutes=5))

    report = sweeper.sweep()

    assert (report.waiting, report.broker_messages, report.requeued_waiting) == (3, 0, 1)
    assert message_ids() == [diagnostics[0].pk]  # the oldest; its batch takes the others
    # A message waits for them now: another sweep adds none (capacity capped, never overrun).
    assert sweeper.sweep().requeued_waiting == 0
    assert message_ids() == [diagnostics[0].pk]


def test_the_sweeper_sends_work_tried_before_a_message_each(clinician, patient, empty_broker):
    with transaction.atomic():
        first, tried, tried_too = [submit(patient, clinician, seed=350 + i) for i in range(3)]
    broker_client().delete("inference")
    Diagnostic.objects.filter(pk__in=[tried.pk, tried_too.pk]).update(attempts=1)
    Diagnostic.objects.update(queued_at=timezone.now() - timedelta(minutes=5))

    assert sweeper.sweep().requeued_waiting == 3
    assert sorted(message_ids()) == sorted([first.pk, tried.pk, tried_too.pk])
    assert sweeper.sweep().requeued_waiting == 0


def test_an_upload_is_kept_when_the_broker_cannot_be_reached(
    clinician, patient, empty_broker, settings
):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:9/0"  # nothing listens on the discard port
    diagnostic = submit(patient, clinician, seed=360)

    diagnostic.refresh_from_db()
    assert diagnostic.status == DiagnosticStatus.QUEUED  # the sweeper sends it once Redis is back
    assert message_ids() == []
