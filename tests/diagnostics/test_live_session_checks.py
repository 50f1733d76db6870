"""Issue 19: a live socket's messages do not wait on the database. Channels runs every socket's
database work of a process on one thread, so a session check before each message queued the results
of all sockets behind each other; a socket now relies on its last check for a few seconds."""

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from django.db import connection
from django.test.utils import CaptureQueriesContext

from diagnostics import live
from tests.diagnostics.sockets import Socket, session_cookie
from tests.factories import PatientFactory
from tests.factories_clinical import DiagnosticFactory

pytestmark = pytest.mark.django_db(transaction=True)

BURST = 10


def session_queries(queries) -> list[str]:
    return [q["sql"] for q in queries if '"django_session"' in q["sql"]]


def stop_capturing(captured: CaptureQueriesContext) -> list[dict]:
    captured.__exit__(None, None, None)
    return captured.captured_queries  # read on the thread whose connection ran them


def test_a_burst_of_messages_reads_the_session_at_most_once(client, clinician, site):
    diagnostic = DiagnosticFactory(recording__patient=PatientFactory(site=site))
    cookie = session_cookie(client, clinician)

    async def scenario():
        socket = Socket(f"/ws/patients/{diagnostic.patient_id}/", cookie)
        assert (await socket.connect())[0]
        await socket.receive_json()  # the snapshot
        # The consumer's database work runs on the test's thread (asgiref hands thread-sensitive
        # work to the thread that called async_to_sync), so that connection sees its queries.
        captured = CaptureQueriesContext(connection)
        await database_sync_to_async(captured.__enter__)()
        for _ in range(BURST):
            await database_sync_to_async(live.publish)(diagnostic)
        received = [await socket.receive_json() for _ in range(BURST)]
        queries = await database_sync_to_async(stop_capturing)(captured)
        await socket.disconnect()
        return received, queries

    received, queries = async_to_sync(scenario)()

    assert [m["id"] for m in received] == [diagnostic.pk] * BURST
    assert len(session_queries(queries)) <= 1
