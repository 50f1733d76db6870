"""A live socket while PostgreSQL is away (a restart, a failover): the page's socket reconnects every
few seconds, and each handshake must be accepted and closed with 4503, which the page answers by
polling and trying again with a backoff; never a 500 (issue: uvicorn answered 500 when the session
or permission lookup raised ``OperationalError``). A socket already open when the database goes is
closed with 4503 at its next session check instead of staying open unchecked.

The in-process ASGI application reaches PostgreSQL through ``Link``, a relay the test cuts (every
connection dropped, new ones refused), as the fault tests do with a real server.
"""

import logging

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connections

from diagnostics import live
from portal.core import database
from tests.diagnostics.sockets import TIMEOUT, Socket, session_cookie
from tests.factories import PatientFactory
from tests.faults.outages import Link

pytestmark = [
    pytest.mark.skipif(settings.DATABASE_VENDOR != "postgresql", reason="a relay to PostgreSQL"),
    pytest.mark.django_db(transaction=True),
]

UNAVAILABLE = 4503


def _reconnect(**settings_dict) -> None:
    """Point the default connection (and its pool) at new settings; the next query reconnects."""
    connection = connections["default"]
    connection.close()
    connection.close_pool()
    connection.settings_dict.update(settings_dict)


@pytest.fixture
def database_link(transactional_db):
    """The database, reached through a ``Link`` the test can cut; a short pool timeout so that a
    query while it is cut fails within a second."""
    saved = connections["default"].settings_dict.copy()
    link = Link.to_database()
    options = {**saved["OPTIONS"]}
    if "pool" in options:
        options["pool"] = {**options["pool"], "timeout": 1.0}
    _reconnect(HOST="127.0.0.1", PORT=str(link.port), OPTIONS=options)
    yield link
    link.close()
    database.breaker.reset()  # the cut opened it: the test database's clean-up must connect
    _reconnect(**saved)


def handshake(path: str, cookie: str | None = None, *, then=None) -> list:
    """What the application sends a browser that opens ``path`` (and, once accepted, after
    ``then`` runs): ("accept",), ("close", code), ("send",) … up to the close."""

    async def attempt():
        socket = Socket(path, cookie)
        await socket.send_input({"type": "websocket.connect"})
        answers = []
        while not answers or answers[-1][0] != "close":
            message = await socket.receive_output(TIMEOUT)
            kind = message["type"].removeprefix("websocket.")
            answers.append((kind, message.get("code", 1000)) if kind == "close" else (kind,))
            if kind == "accept" and then is not None:
                await then()
        return answers

    return async_to_sync(attempt)()


def closing(answers: list) -> tuple:
    """The handshake's first answer and its last."""
    return answers[0], answers[-1]


@pytest.mark.parametrize("route", ["patients", "diagnostics"])
def test_a_handshake_while_the_database_is_away_is_accepted_and_closed_with_4503(
    database_link, client, clinician, site, route, caplog
):
    patient = PatientFactory(site=site)
    cookie = session_cookie(client, clinician)
    database_link.cut()

    with caplog.at_level(logging.WARNING):
        answers = handshake(f"/ws/{route}/{patient.pk}/", cookie)

    assert closing(answers) == (("accept",), ("close", UNAVAILABLE))
    logged = [r for r in caplog.records if "unavailable" in r.getMessage()]
    assert len(logged) == 1, [r.getMessage() for r in caplog.records]
    assert str(patient.pk) not in logged[0].getMessage() and not logged[0].exc_info


def test_a_refusal_that_cannot_be_audited_while_the_database_is_away_closes_with_4503(
    database_link, site
):
    patient = PatientFactory(site=site)
    database_link.cut()

    assert closing(handshake(f"/ws/patients/{patient.pk}/")) == (
        ("accept",), ("close", UNAVAILABLE),
    )  # fmt: skip


def test_an_open_socket_is_closed_with_4503_at_its_session_check_once_the_database_is_away(
    database_link, client, clinician, site, settings
):
    settings.SOCKET_SESSION_CHECK_SECONDS = 0.2
    patient = PatientFactory(site=site)
    cookie = session_cookie(client, clinician)

    async def cut():
        database_link.cut()

    answers = handshake(f"/ws/patients/{patient.pk}/", cookie, then=cut)

    assert closing(answers) == (("accept",), ("close", UNAVAILABLE))


def test_a_message_due_while_the_database_is_away_closes_the_socket_with_4503(
    database_link, client, clinician, site, settings
):
    """A message whose session check is due (the last one no longer trusted) and cannot be made."""
    settings.SOCKET_SESSION_TRUST_SECONDS = 0
    patient = PatientFactory(site=site)
    cookie = session_cookie(client, clinician)

    async def cut_then_publish():
        database_link.cut()
        await get_channel_layer().group_send(
            live.patient_group(patient.pk),
            {"type": "diagnostic.update", "message": {"type": "diagnostic", "id": 1}},
        )

    answers = handshake(f"/ws/patients/{patient.pk}/", cookie, then=cut_then_publish)

    assert closing(answers) == (("accept",), ("close", UNAVAILABLE))
    assert ("send",) not in answers[1:]  # nothing delivered unchecked
