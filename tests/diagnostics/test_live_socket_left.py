"""A result published as the browser leaves: issue 18's load runs logged "Exception in ASGI
application" hundreds of times (`RuntimeError: Unexpected ASGI message 'websocket.send', after
sending 'websocket.close'` and uvicorn's `ClientDisconnected`), each a consumer sending a result to
a page that had just closed. A server following ASGI raises on such a send; the socket stack now
drops the message, and the consumer leaves its groups on the disconnect that follows.

The application runs under a small server of the test's own, which answers as uvicorn does: a send
during the browser's departure raises ``ClientDisconnected`` (an ``OSError``), and one after the
disconnect it reported raises ``RuntimeError``.
"""

import asyncio

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from django.db import connection
from uvicorn.protocols.utils import ClientDisconnected

from diagnostics import live
from portal.asgi import application
from tests.diagnostics.sockets import TIMEOUT, session_cookie
from tests.factories import PatientFactory
from tests.factories_clinical import DiagnosticFactory

pytestmark = pytest.mark.django_db(transaction=True)


class Server:
    """One socket as uvicorn serves it: ``leave`` makes the browser go, either during the next
    send (which raises ``ClientDisconnected``) or before it (the next receive reports it, and a
    send after that raises ``RuntimeError``)."""

    def __init__(self, path: str, cookie: str) -> None:
        self.scope = {
            "type": "websocket", "path": path, "query_string": b"", "subprotocols": [],
            "headers": [(b"origin", b"http://127.0.0.1"), (b"host", b"127.0.0.1"),
                        (b"cookie", cookie.encode())],
        }  # fmt: skip
        self.inbox: asyncio.Queue = asyncio.Queue()
        self.sent: list[dict] = []
        self.leaving_on_send = False
        self.disconnect_reported = False

    async def receive(self) -> dict:
        message = await self.inbox.get()
        self.disconnect_reported = message["type"] == "websocket.disconnect"
        return message

    async def send(self, message: dict) -> None:
        if self.disconnect_reported:
            raise RuntimeError(f"Unexpected ASGI message {message['type']!r} after the close")
        if self.leaving_on_send and message["type"] == "websocket.send":
            self.inbox.put_nowait({"type": "websocket.disconnect", "code": 1006})
            raise ClientDisconnected
        self.sent.append(message)

    async def serve(self, then) -> list[str]:
        """Run the application through the handshake, ``then``, and to its end; the types of what
        it sent the browser."""
        app = asyncio.create_task(application(self.scope, self.receive, self.send))
        self.inbox.put_nowait({"type": "websocket.connect"})
        async with asyncio.timeout(TIMEOUT):
            while not self.sent:
                await asyncio.sleep(0.01)
            assert self.sent[0]["type"] == "websocket.accept", self.sent
            await then(self)
            await app  # an exception here is what uvicorn logged as "Exception in ASGI application"
        return [m["type"] for m in self.sent]


def reporting_the_disconnect_during_the_session_check(server: Server, loop):
    """A query wrapper (on the thread the consumer's database work runs on) that has the server
    report the browser's departure while the consumer checks the session before a result: the
    consumer has the result in hand when its receive returns the disconnect."""

    def wrapper(execute, sql, params, many, context):
        if server.armed and '"django_session"' in sql:
            server.armed = False
            loop.call_soon_threadsafe(
                server.inbox.put_nowait, {"type": "websocket.disconnect", "code": 1001}
            )
        return execute(sql, params, many, context)

    return wrapper


@pytest.mark.parametrize("how", ["during the send", "before the send"])
def test_a_result_published_as_the_browser_leaves_is_dropped_without_an_error(
    how, client, clinician, site, settings
):
    settings.SOCKET_SESSION_TRUST_SECONDS = 0  # every result checks the session first
    diagnostic = DiagnosticFactory(recording__patient=PatientFactory(site=site))
    server = Server(f"/ws/patients/{diagnostic.patient_id}/", session_cookie(client, clinician))
    server.armed = False
    loop = {}

    async def leave_as_a_result_comes(server: Server) -> None:
        while len(server.sent) < 2:  # the accept, then the snapshot
            await asyncio.sleep(0.01)
        if how == "during the send":
            server.leaving_on_send = True
        else:
            server.armed = True
        await database_sync_to_async(live.publish)(diagnostic)

    async def serve():
        loop["running"] = asyncio.get_running_loop()
        return await server.serve(leave_as_a_result_comes)

    class LateLoop:  # the wrapper needs the loop async_to_sync runs, known once it runs
        def call_soon_threadsafe(self, *args):
            loop["running"].call_soon_threadsafe(*args)

    with connection.execute_wrapper(reporting_the_disconnect_during_the_session_check(
        server, LateLoop()
    )):  # fmt: skip
        sent = async_to_sync(serve)()

    assert sent == ["websocket.accept", "websocket.send"]  # the snapshot; the result dropped
    assert server.disconnect_reported
