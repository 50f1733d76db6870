"""First attempts get one waiting message between them, not one each: an upload sends its message
only when none waits; each task passes the next one on before it analyses; the sweeper sends what a
lost message leaves waiting, and no more. (The task's steps run in this process; the worker tests
run them in a real worker.)"""

import ast
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from diagnostics import inference, inference_queue, sweeper
from diagnostics.models import Diagnostic, DiagnosticStatus, Label
from portal.core import dispatch
from tests.diagnostics.inference_steps import broker_client, queued_messages, submit
from tests.factories import PatientFactory

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


@pytest.fixture
def patient(site):
    return PatientFactory(site=site)


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
    clinician, patient, empty_broker, model_here, settings, monkeypatch
):
    settings.INFERENCE_BATCH_SIZE = 2
    settings.INFERENCE_DRAIN_S = 0  # each task stops after its own batch
    with transaction.atomic():
        diagnostics = [submit(patient, clinician, seed=310 + i) for i in range(5)]
    waiting_during_analysis = []
    analyse = inference.analyse

    def analyse_and_look(claimed, **kwargs):
        waiting_during_analysis.append(message_ids())
        return analyse(claimed, **kwargs)

    monkeypatch.setattr(inference, "analyse", analyse_and_look)

    tasks = 0
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
    clinician, patient, empty_broker, model_here, settings, monkeypatch
):
    settings.INFERENCE_BATCH_SIZE = 2
    with transaction.atomic():
        diagnostics = [submit(patient, clinician, seed=370 + i) for i in range(5)]
    claimed_while = []
    claim_next = inference._claim_next

    def claim_next_and_look(task_id):
        claimed_while.append(len(running_calls))
        return claim_next(task_id)

    running_calls = []
    start_call = inference._Call.start
    monkeypatch.setattr(
        inference._Call, "start", lambda call: running_calls.append(1) or start_call(call)
    )
    monkeypatch.setattr(inference, "_claim_next", claim_next_and_look)

    inference.run_diagnostic(diagnostic_id=take_message(), task_id="task-1")

    for diagnostic in diagnostics:
        diagnostic.refresh_from_db()
        assert diagnostic.status == DiagnosticStatus.SUCCEEDED and diagnostic.task_id == "task-1"
    assert [d.timings["batch_size"] for d in diagnostics] == [2, 2, 2, 2, 1]
    # Each next batch was claimed once its predecessor's (last) call had gone to the model, and
    # the last one, which left none waiting, was not followed by a claim.
    assert claimed_while == [1, 2]
    # The message the first claim passed on finds its batch done; it looks, and sends none.
    [passed_on] = message_ids()
    inference.run_diagnostic(diagnostic_id=take_message(), task_id="task-2")
    assert passed_on == diagnostics[2].pk and message_ids() == []


def test_the_model_has_its_next_call_before_the_last_calls_results_are_recorded(
    clinician, patient, empty_broker, model_here, settings, monkeypatch
):
    settings.INFERENCE_BATCH_SIZE = 4
    settings.INFERENCE_MODEL_BATCH = 2
    with transaction.atomic():
        diagnostics = [submit(patient, clinician, seed=380 + i) for i in range(8)]
    events = []
    start_call, call_results = inference._Call.start, inference._Call.results
    record_results = inference._record_results

    def start_and_note(call):
        events.append(("start", [item.diagnostic.pk for item in call.loaded]))
        start_call(call)

    def results_and_note(call):
        events.append(("results", [item.diagnostic.pk for item in call.loaded]))
        return call_results(call)

    def record_and_note(results):
        events.append(("record", [d.pk for d in results]))
        return record_results(results)

    monkeypatch.setattr(inference._Call, "start", start_and_note)
    monkeypatch.setattr(inference._Call, "results", results_and_note)
    monkeypatch.setattr(inference, "_record_results", record_and_note)

    inference.run_diagnostic(diagnostic_id=take_message(), task_id="task-1")

    ids = [d.pk for d in diagnostics]
    one, two, three, four = (ids[i : i + 2] for i in range(0, 8, 2))
    # Each call goes to the model before the one ahead of it is done, within a batch and across
    # two (the second batch, three and four, was claimed while the model ran two).
    assert events == [
        ("start", one), ("start", two), ("results", one), ("record", one),
        ("start", three), ("results", two), ("record", two),
        ("start", four), ("results", three), ("record", three),
        ("results", four), ("record", four),
    ]  # fmt: skip
    assert set(Diagnostic.objects.values_list("status", flat=True)) == {DiagnosticStatus.SUCCEEDED}
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
    inference_queue._client.cache_clear()
    try:
        diagnostic = submit(patient, clinician, seed=360)
    finally:
        inference_queue._client.cache_clear()

    diagnostic.refresh_from_db()
    assert diagnostic.status == DiagnosticStatus.QUEUED  # the sweeper sends it once Redis is back
    assert message_ids() == []
