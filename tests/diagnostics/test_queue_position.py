"""Every status of a waiting diagnostic says where it stands in the queue (1 = next), REST and
WebSocket alike, so pages can say "3rd in line" while capacity is capped."""

from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from diagnostics import live
from diagnostics.models import Diagnostic, DiagnosticStatus
from tests.diagnostics.inference_steps import submit
from tests.diagnostics.sockets import Socket, session_cookie
from tests.factories_clinical import DiagnosticFactory, succeeded

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def waiting(patient):
    """Three diagnostics waiting, in upload order, behind one running and one finished."""
    succeeded(recording__patient=patient)
    DiagnosticFactory(recording__patient=patient, status=DiagnosticStatus.RUNNING, attempts=1)
    return [DiagnosticFactory(recording__patient=patient) for _ in range(3)]


def rest_positions(client, diagnostics) -> list:
    return [
        client.get(f"/api/v1/diagnostics/{d.pk}/").json()["queue_position"] for d in diagnostics
    ]


def socket_snapshot(path: str, cookie: str) -> list[dict]:
    async def connect():
        socket = Socket(path, cookie)
        accepted, _ = await socket.connect()
        assert accepted
        messages = [await socket.receive_json()]
        while not await socket.receive_nothing(timeout=0.2):
            messages.append(await socket.receive_json())
        await socket.disconnect()
        return messages

    return async_to_sync(connect)()


def test_rest_and_websocket_give_the_same_positions_one_being_next(
    client, clinician, patient, waiting
):
    client.force_login(clinician)
    cookie = session_cookie(client, clinician)

    by_diagnostic = [
        socket_snapshot(f"/ws/diagnostics/{d.pk}/", cookie)[0]["queue_position"] for d in waiting
    ]
    by_patient = {
        m["id"]: m["queue_position"] for m in socket_snapshot(f"/ws/patients/{patient.pk}/", cookie)
    }

    assert rest_positions(client, waiting) == [1, 2, 3]
    assert by_diagnostic == [1, 2, 3]
    assert [by_patient[d.pk] for d in waiting] == [1, 2, 3]
    assert list(by_patient.values()).count(None) == 2  # the running and the finished one


def test_positions_move_up_as_the_queue_drains(client, clinician, waiting):
    client.force_login(clinician)

    waiting[0].status = DiagnosticStatus.RUNNING
    waiting[0].save()

    assert rest_positions(client, waiting) == [None, 1, 2]


def test_the_queued_message_of_a_new_upload_carries_its_position(
    client, clinician, patient, waiting
):
    cookie = session_cookie(client, clinician)

    async def upload_while_watching():
        socket = Socket(f"/ws/patients/{patient.pk}/", cookie)
        accepted, _ = await socket.connect()
        assert accepted
        while not await socket.receive_nothing(timeout=0.2):
            await socket.receive_json()  # the snapshot of what was there before
        diagnostic = await database_sync_to_async(submit)(patient, clinician, seed=41)
        message = await socket.receive_json()
        await socket.disconnect()
        return diagnostic, message

    diagnostic, message = async_to_sync(upload_while_watching)()

    assert message["id"] == diagnostic.pk and message["status"] == "queued"
    assert message["queue_position"] == 4


def test_an_urgent_diagnostic_goes_ahead_of_every_routine_one(client, clinician, patient, waiting):
    client.force_login(clinician)

    urgent = [DiagnosticFactory(recording__patient=patient, urgent=True) for _ in range(2)]

    assert rest_positions(client, urgent) == [1, 2]
    assert rest_positions(client, waiting) == [3, 4, 5]


def test_one_diagnostic_counted_and_many_annotated_get_the_same_positions(patient):
    # Urgent and routine, two queued at the same instant (ordered by id), one no longer waiting.
    at = timezone.now()
    arrivals = [(False, 3), (True, 2), (False, 1), (False, 1), (True, 5), (False, 0)]
    queue = [
        DiagnosticFactory(recording__patient=patient, urgent=urgent,
                          queued_at=at - timedelta(seconds=seconds))
        for urgent, seconds in arrivals
    ]  # fmt: skip
    started = DiagnosticFactory(
        recording__patient=patient, status=DiagnosticStatus.RUNNING, queued_at=at
    )

    annotated = dict(
        Diagnostic.objects.with_queue_position()
        .filter(pk__in=[d.pk for d in [*queue, started]])
        .values_list("pk", "queue_position")
    )
    counted, sql = {}, []
    for diagnostic in [*queue, started]:
        fresh = Diagnostic.objects.get(pk=diagnostic.pk)
        with CaptureQueriesContext(connection) as queries:
            counted[diagnostic.pk] = live.queue_position(fresh)
        sql += [query["sql"] for query in queries.captured_queries]

    assert counted == annotated
    # Urgent first (longest waiting first), then routine by time, a tie by id.
    assert [annotated[d.pk] for d in queue] == [3, 2, 4, 5, 1, 6]
    assert annotated[started.pk] is None
    # One plain count a waiting diagnostic, none for the one no longer waiting.
    assert len(sql) == len(queue)
    assert all(q.startswith("SELECT COUNT(*)") and "CASE" not in q for q in sql), sql
