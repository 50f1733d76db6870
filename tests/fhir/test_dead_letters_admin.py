"""The dead-letter list in the admin: deliveries that gave up are listed, and sent again."""

import pytest

from portal.core.models import AuditEvent
from portal.fhir.models import Delivery, DeliveryStatus, Trigger
from tests.factories import UserFactory, verified_login
from tests.factories_clinical import RecordingFactory, succeeded

pytestmark = pytest.mark.django_db


def test_an_administrator_sends_a_dead_letter_again(
    client, linked_patient, django_capture_on_commit_callbacks
):
    administrator = UserFactory(username="root", is_staff=True, is_superuser=True)
    verified_login(client, administrator)
    diagnostic = succeeded(recording=RecordingFactory(patient=linked_patient))
    dead = Delivery.objects.create(diagnostic=diagnostic, trigger=Trigger.RESULT, attempts=8,
                                   status=DeliveryStatus.DEAD, last_error="record_unavailable")  # fmt: skip
    delivered = Delivery.objects.create(diagnostic=diagnostic, trigger=Trigger.REVIEW,
                                        status=DeliveryStatus.DELIVERED)  # fmt: skip

    listed = client.get("/admin/fhir/delivery/?status=dead")
    with django_capture_on_commit_callbacks(execute=False) as sends:
        client.post("/admin/fhir/delivery/", {
            "action": "send_again", "_selected_action": [dead.pk, delivered.pk],
        })  # fmt: skip

    assert listed.status_code == 200 and b"record_unavailable" in listed.content
    dead.refresh_from_db(), delivered.refresh_from_db()
    assert (dead.status, dead.attempts, dead.last_error) == (DeliveryStatus.PENDING, 0, "")
    assert delivered.status == DeliveryStatus.DELIVERED
    assert len(sends) == 1  # the task is sent once the retry is committed
    assert AuditEvent.objects.filter(action="fhir.delivery_retried", actor=administrator).exists()
