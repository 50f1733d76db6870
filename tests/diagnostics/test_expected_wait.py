"""Every waiting diagnostic has an expected wait: its queue position over the inference workers'
measured throughput (each worker's clips per busy second over a sliding window, summed over the
workers), or over ``INFERENCE_FALLBACK_CLIPS_PER_S`` while nothing has been measured. The API, the
WebSocket message, the page and the scraped gauges all say the same."""

import time

import pytest
from prometheus_client import REGISTRY

from diagnostics import capacity, sweeper
from diagnostics.models import DiagnosticStatus
from tests.diagnostics.sockets import session_cookie
from tests.diagnostics.test_queue_position import socket_snapshot
from tests.factories_clinical import DiagnosticFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def nothing_measured(empty_broker, settings):
    settings.INFERENCE_THROUGHPUT_WINDOW_S = 60
    settings.INFERENCE_FALLBACK_CLIPS_PER_S = 2.0
    capacity.forget_cached_throughput()


def test_throughput_is_each_workers_clips_per_busy_second_summed_over_workers():
    now = time.time()
    capacity.record_work(worker="gpu-0", clips=100, busy_s=1.0, now=now - 5)
    capacity.record_work(worker="gpu-0", clips=100, busy_s=1.0, now=now - 2)
    capacity.record_work(worker="gpu-1", clips=50, busy_s=0.5, now=now - 1)

    # gpu-0: 200 clips in 2 busy seconds; gpu-1: 50 in 0.5. Idle time does not lower either.
    assert capacity.measured_throughput(now=now) == pytest.approx(200.0)


def test_work_older_than_the_window_no_longer_counts():
    now = time.time()
    capacity.record_work(worker="gpu-0", clips=100, busy_s=1.0, now=now - 90)

    assert capacity.measured_throughput(now=now) is None
    assert capacity.throughput() == 2.0  # the documented fallback


def test_rest_and_websocket_give_the_expected_wait_of_each_waiting_diagnostic(
    client, clinician, patient
):
    capacity.record_work(worker="gpu-0", clips=4, busy_s=1.0)
    capacity.forget_cached_throughput()
    running = DiagnosticFactory(recording__patient=patient, status=DiagnosticStatus.RUNNING)
    waiting = [DiagnosticFactory(recording__patient=patient) for _ in range(5)]
    client.force_login(clinician)

    rest = [client.get(f"/api/v1/diagnostics/{d.pk}/").json() for d in [running, *waiting]]
    socket = {
        m["id"]: m
        for m in socket_snapshot(f"/ws/patients/{patient.pk}/", session_cookie(client, clinician))
    }

    # 4 clips/s: positions 1 to 5 wait about 1, 1, 1, 1 and 2 seconds (rounded up).
    assert [body["expected_wait_s"] for body in rest] == [None, 1, 1, 1, 1, 2]
    assert [socket[b["id"]]["expected_wait_s"] for b in rest] == [None, 1, 1, 1, 1, 2]


def test_the_patient_page_says_when_a_waiting_result_is_expected(client, clinician, patient):
    DiagnosticFactory(recording__patient=patient)
    waiting = DiagnosticFactory(recording__patient=patient)
    client.force_login(clinician)

    page = client.get(f"/patients/{patient.pk}/").content.decode()

    assert waiting.pk and "position 2 in the queue" in page
    assert "expected in about 1 s" in page  # 2 clips/s, nothing measured


def test_the_sweeper_sets_the_scraped_throughput_and_wait_gauges(patient):
    for _ in range(6):
        DiagnosticFactory(recording__patient=patient)
    capacity.record_work(worker="gpu-0", clips=3, busy_s=1.0)
    capacity.forget_cached_throughput()

    sweeper.sweep()

    assert REGISTRY.get_sample_value("portal_inference_queue_length") == 6
    assert REGISTRY.get_sample_value("portal_inference_throughput_clips_per_second") == 3.0
    assert REGISTRY.get_sample_value("portal_inference_expected_wait_seconds") == 2.0
