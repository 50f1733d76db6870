"""A stored file whose read would hang (a FIFO in its place, as a hung mount behaves) fails that
recording alone and at once: a real inference worker analyses the rest of its batch within
seconds and keeps no thread stuck on the file; the spectrogram job and the research copy give up
on it too; and work a worker gives up on (its time limit) goes back to the queue at once."""

import subprocess
import sys
import threading
import time

import pytest
from django.db import connections, transaction

from diagnostics import spectrogram
from diagnostics.models import Diagnostic, DiagnosticStatus
from media_assets.storage import ReadDeadlineExceeded, analysis_audio
from portal.core.storage import STORAGE_ERRORS
from portal.research.audio import research_copy
from tests.diagnostics.inference_steps import (
    all_finished,
    held,
    inference_worker,
    mark_fault,
    results_announced,
    submit,
    wait_for,
)
from tests.factories import PatientFactory
from tests.faults.storage_faults import has_reader, release_fifo, replace_with_fifo, summary
from tests.processes import ROOT, production_env

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.mark.usefixtures("production_model")
def test_a_hung_file_fails_alone_and_the_rest_of_its_batch_is_analysed_within_seconds(
    clinician, site, tmp_path, media_root, worker_env, request
):
    patient = PatientFactory(site=site)
    with transaction.atomic():  # one commit: the first task claims the four as one batch
        hung, *others = [submit(patient, clinician, seed=300 + i) for i in range(4)]
    fifo = media_root / hung.recording.storage_key
    replace_with_fifo(fifo)
    worker = inference_worker(worker_env, tmp_path)
    started = time.monotonic()
    try:
        others_s = wait_for(
            all_finished(*others), within=25, what="the rest of the batch analysed", logs=[worker]
        )
        wait_for(all_finished(hung), within=60, what="the hung one finished", logs=[worker])
        stuck_reader = has_reader(fifo)
    finally:
        release_fifo(fifo)
        worker.stop()

    hung.refresh_from_db()
    summary(request, "hung storage read (inference)", batch=4, analysed=len(others),
            others_done_s=round(others_s, 1), hung_status=hung.status,
            hung_attempts=hung.attempts, total_s=round(time.monotonic() - started, 1),
            threads_stuck=int(stuck_reader))  # fmt: skip
    for diagnostic in others:
        diagnostic.refresh_from_db()
        assert diagnostic.status == DiagnosticStatus.SUCCEEDED, diagnostic.error
        assert diagnostic.attempts == 1
        assert results_announced(worker, diagnostic=diagnostic) == 1
    assert hung.status == DiagnosticStatus.FAILED
    assert "could not be analysed" in hung.error
    assert not stuck_reader, "a thread of the worker is still blocked on the hung file"


def gives_up_within(seconds: float, job) -> BaseException | None:
    """Run ``job`` on a thread; the exception it raised, failing if it is still running."""
    outcome: list = []

    def run():
        try:
            job()
            outcome.append(None)
        except BaseException as exc:
            outcome.append(exc)
        finally:
            connections.close_all()  # this thread's own, or the test database outlives the run

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still reading the hung file after {seconds} s"
    return outcome[0]


@pytest.mark.parametrize(
    "job",
    [
        pytest.param(lambda recording: spectrogram.render(recording.pk), id="spectrogram"),
        pytest.param(research_copy, id="research-copy"),
    ],
)
def test_the_other_readers_of_a_hung_file_give_up_on_it(job, clinician, site, media_root, request):
    recording = submit(PatientFactory(site=site), clinician, seed=320).recording
    fifo = media_root / recording.storage_key
    replace_with_fifo(fifo)
    try:
        error = gives_up_within(5, lambda: job(recording))
        stuck_reader = has_reader(fifo)
    finally:
        release_fifo(fifo)

    summary(request, f"hung storage read ({request.node.callspec.id})",
            error=type(error).__name__, threads_stuck=int(stuck_reader))  # fmt: skip
    assert isinstance(error, STORAGE_ERRORS)
    assert not stuck_reader


def test_the_audio_view_answers_at_once_for_a_hung_file(
    client, clinician, site, media_root, request
):
    recording = submit(PatientFactory(site=site), clinician, seed=325).recording
    fifo = media_root / recording.storage_key
    replace_with_fifo(fifo)
    client.force_login(clinician)
    answers = []
    try:
        error = gives_up_within(
            5, lambda: answers.append(client.get(f"/media/recordings/{recording.pk}/audio"))
        )
        stuck_reader = has_reader(fifo)
    finally:
        release_fifo(fifo)

    summary(request, "hung storage read (audio view)", status=answers[0].status_code if answers else None,
            threads_stuck=int(stuck_reader))  # fmt: skip
    assert error is None
    assert answers[0].status_code == 404
    assert not stuck_reader


def test_a_read_that_crawls_fails_at_the_storage_deadline(
    clinician, site, media_root, settings, request
):
    recording = submit(PatientFactory(site=site), clinician, seed=340).recording
    settings.STORAGE_READ_TIMEOUT_S = 0.5
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "tests.faults.storage_faults.TrickleStorage",
            "OPTIONS": {"location": str(media_root)},
        },
    }
    started = time.monotonic()

    error = gives_up_within(5, lambda: analysis_audio(recording.storage_key))

    took = time.monotonic() - started
    summary(request, "crawling storage read", error=type(error).__name__, after_s=round(took, 2))
    assert isinstance(error, ReadDeadlineExceeded) and isinstance(error, STORAGE_ERRORS)
    assert took < 1.5


def test_s3_reads_have_connect_and_read_timeouts(tmp_path):
    env = {**production_env(tmp_path), "STORAGE_BACKEND": "s3",
           "AWS_STORAGE_BUCKET_NAME": "recordings", "AWS_S3_REGION_NAME": "eu-west-1",
           "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
           "AWS_S3_KMS_KEY_ID": "alias/recordings",  # production on S3 names its KMS key
           "STORAGE_READ_TIMEOUT_S": "7", "STORAGE_CONNECT_TIMEOUT_S": "3"}  # fmt: skip
    script = (
        "import django; django.setup()\n"
        "from django.core.files.storage import default_storage as s\n"
        "c = s.connection.meta.client.meta.config\n"
        "print(c.connect_timeout, c.read_timeout)"
    )

    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip

    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == ["3.0", "7.0"]


@pytest.mark.usefixtures("production_model")
def test_work_a_worker_gives_up_on_goes_back_to_the_queue_at_once(
    clinician, site, tmp_path, worker_env, fault_dir, request
):
    # The faulty worker holds a batch holding a recording marked "hold" past the task's soft time
    # limit: the task gives up, and its whole batch must go back to the queue then, not at the
    # sweeper's pass.
    worker = inference_worker({**worker_env, "CELERY_TASK_SOFT_TIME_LIMIT": "6"}, tmp_path)
    patient = PatientFactory(site=site)
    try:
        with transaction.atomic():
            mark_fault(fault_dir, "hold", seed=330)
            slow = submit(patient, clinician, seed=330)
            mates = [submit(patient, clinician, seed=331 + i) for i in range(2)]
        wait_for(held(fault_dir, slow), within=30, what="the batch held", logs=[worker])
        back_s = wait_for(
            all_finished(slow, *mates), within=30, what="the batch analysed after the time limit",
            logs=[worker],
        )  # fmt: skip
    finally:
        worker.stop()

    summary(request, "worker gave up (soft time limit)", batch=3, finished_after_s=round(back_s, 1))
    for diagnostic in (slow, *mates):
        diagnostic.refresh_from_db()
        assert diagnostic.status == DiagnosticStatus.SUCCEEDED, diagnostic.error
        assert diagnostic.attempts == 2
        assert results_announced(worker, diagnostic=diagnostic) == 1
    assert Diagnostic.objects.filter(status=DiagnosticStatus.RUNNING).count() == 0
