"""A surge while no inference worker runs: uploads within the expected-wait cap are accepted as
usual (201), those past ``INFERENCE_MAX_WAIT_S`` are still accepted but answered 202 with their
expected wait and a ``Retry-After`` for polling, and past ``INFERENCE_QUEUE_HARD_LIMIT`` queued
diagnostics an upload is refused with 503 and ``Retry-After``, leaving nothing behind. Once a
worker starts, every accepted upload gets its result, the urgent one (uploaded last) first."""

import pytest

from diagnostics import capacity
from diagnostics.models import Diagnostic, DiagnosticStatus
from media_assets.models import Recording
from tests.api.conftest import jwt_client
from tests.diagnostics.inference_steps import all_finished, inference_worker, wait_for
from tests.factories import PatientFactory
from tests.media_assets.uploading import cough_wav

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def upload(api, patient, seed: int, **fields):
    return api.post(
        "/api/v1/recordings/",
        {"patient": patient.pk, "kind": "cough", "file": _wav(seed), **fields},
        format="multipart",
    )


def _wav(seed: int):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(f"c{seed}.wav", cough_wav(seed=seed), content_type="audio/wav")


def test_a_surge_with_no_worker_is_delayed_then_refused_and_drains_urgent_first(
    clinician, site, production_model, worker_env, tmp_path, settings
):
    # Nothing measured yet: the fallback rate of 1 clip/s makes the wait the queue position.
    settings.INFERENCE_FALLBACK_CLIPS_PER_S = 1.0
    settings.INFERENCE_MAX_WAIT_S = 2
    settings.INFERENCE_QUEUE_HARD_LIMIT = 5
    # The waits below assume that rate. A measure in the broker's Redis would replace it (the test
    # failed once with 201 for 202, not reproduced since): say so rather than fail on a status.
    capacity.forget_cached_throughput()
    leftover = capacity.measured_throughput()
    assert leftover is None, f"a throughput of {leftover} clips/s measured before any worker ran"
    api = jwt_client(clinician)
    patient = PatientFactory(site=site)

    answers = [upload(api, patient, seed=500 + i) for i in range(4)]
    answers.append(upload(api, patient, seed=504, urgent="true"))
    refused = upload(api, patient, seed=505)

    assert [a.status_code for a in answers] == [201, 201, 202, 202, 201]
    first, delayed = answers[0].json()["diagnostic"], answers[2].json()["diagnostic"]
    assert (first["queue_position"], first["expected_wait_s"]) == (1, 1)
    assert "Retry-After" not in answers[0]
    assert (delayed["queue_position"], delayed["expected_wait_s"]) == (3, 3)
    assert answers[2]["Retry-After"] == "3"
    # The urgent upload goes ahead of every routine one: next in line, no delay to announce.
    urgent = answers[4].json()["diagnostic"]
    assert (urgent["queue_position"], urgent["expected_wait_s"]) == (1, 1)
    assert refused.status_code == 503
    assert refused.json()["error"]["code"] == "queue_full"
    assert int(refused["Retry-After"]) >= 1
    assert Recording.objects.filter(patient=patient).count() == 5  # the refused one left nothing
    assert Diagnostic.objects.filter(status=DiagnosticStatus.QUEUED).count() == 5

    worker = inference_worker({**worker_env, "INFERENCE_BATCH_SIZE": "1"}, tmp_path)
    try:
        accepted = list(Diagnostic.objects.filter(recording__patient=patient))
        wait_for(all_finished(*accepted), within=120, what="every accepted upload analysed",
                 logs=[worker])  # fmt: skip
        # A task records its clips and busy time once it is over, just after its last result:
        # reading the measure the moment the results are in races it (failed so in a full run).
        wait_for(lambda: capacity.measured_throughput() is not None, within=30,
                 what="the worker's measure of its throughput", logs=[worker])  # fmt: skip
    finally:
        worker.stop()

    done = {d.pk: d for d in Diagnostic.objects.filter(recording__patient=patient)}
    assert all(d.status == DiagnosticStatus.SUCCEEDED for d in done.values())
    urgent_one = done[urgent["id"]]
    assert urgent_one.urgent
    assert all(urgent_one.started_at < d.started_at for d in done.values() if d is not urgent_one)
    # The worker measured its own throughput: the fallback no longer applies.
    measured = capacity.measured_throughput()
    assert measured is not None and measured > 0
