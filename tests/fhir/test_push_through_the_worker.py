"""The whole way, with real processes: a review committed here is announced by diagnostics, sent
to a real Celery worker, which finds the hospital's server down, backs off, and delivers once the
server is back."""

import time

import pytest

from diagnostics.reviews import Decision, review_diagnostic
from portal.fhir.models import Delivery, DeliveryStatus
from tests.factories import UserFactory
from tests.factories_clinical import RecordingFactory, succeeded
from tests.fhir.conftest import HOSPITAL
from tests.fhir.loopback import LoopbackFhirServer
from tests.processes import celery_worker

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _wait_for(condition, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


@pytest.mark.usefixtures("empty_broker")
def test_a_review_is_delivered_by_the_worker_after_the_server_was_down(
    process_env,
    tmp_path,
    settings,
    linked_patient,
):
    server = LoopbackFhirServer().start()
    server.stop()  # down, on a port of its own that it will come back on
    settings.FHIR_BASE_URL = server.url
    settings.FHIR_PATIENT_IDENTIFIER_SYSTEM = HOSPITAL
    env = {**process_env, "FHIR_BASE_URL": server.url, "FHIR_PATIENT_IDENTIFIER_SYSTEM": HOSPITAL,
           "FHIR_RETRY_BASE_S": "0.5", "FHIR_MAX_ATTEMPTS": "20"}  # fmt: skip
    worker = celery_worker(env, tmp_path, queues="default")
    try:
        diagnostic = succeeded(recording=RecordingFactory(patient=linked_patient))
        review_diagnostic(diagnostic=diagnostic, actor=UserFactory(), decision=Decision.CONFIRM)

        assert _wait_for(lambda: Delivery.objects.filter(attempts__gte=1).exists()), worker.output()
        server.start()
        assert _wait_for(
            lambda: Delivery.objects.filter(status=DeliveryStatus.DELIVERED).exists()
        ), worker.output()
    finally:
        worker.stop()
        server.stop()

    (delivered,) = Delivery.objects.all()
    assert delivered.attempts >= 2 and delivered.trigger == "review"
    (report,) = server.all("DiagnosticReport")
    assert report["status"] == "final" and len(report["result"]) == 2
