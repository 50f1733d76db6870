"""Who may watch live results over the WebSocket, and what the socket says (in-process ASGI app).

The consumers run in the real ASGI stack (origin check, session cookie, auth) against the real Redis
channel layer; the session is a real one made by logging in.
"""

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async

from diagnostics import live
from diagnostics.consumers import DiagnosticConsumer, PatientConsumer
from diagnostics.models import DiagnosticStatus
from portal.core.models import AuditEvent, Role
from tests.diagnostics.sockets import Socket, session_cookie
from tests.factories import MembershipFactory, PatientFactory, UserFactory
from tests.factories_clinical import DiagnosticFactory, succeeded

pytestmark = pytest.mark.django_db(transaction=True)

NOT_FOUND = 4404
FORBIDDEN = 4403


def close_code(path: str, cookie: str | None = None) -> int | None:
    """The code a refused connection is closed with; None when it is accepted."""

    async def attempt():
        socket = Socket(path, cookie)
        accepted, code = await socket.connect()
        if accepted:
            await socket.disconnect()
        return code

    return async_to_sync(attempt)()


@database_sync_to_async
def start_analysis(diagnostic):
    """What a worker's claim does, as the sockets see it: the diagnostic running, published."""
    diagnostic.status = DiagnosticStatus.RUNNING
    diagnostic.attempts = 1
    diagnostic.save()
    live.publish(diagnostic)


def test_anonymous_users_are_refused_with_4403(site):
    diagnostic = DiagnosticFactory(recording__patient=PatientFactory(site=site))

    assert close_code(f"/ws/diagnostics/{diagnostic.pk}/") == FORBIDDEN
    assert close_code(f"/ws/patients/{diagnostic.patient_id}/") == FORBIDDEN
    assert AuditEvent.objects.filter(action="access.denied", actor=None).count() == 2


def test_an_unknown_id_closes_with_4404(client, clinician):
    cookie = session_cookie(client, clinician)

    assert close_code("/ws/diagnostics/987654/", cookie) == NOT_FOUND
    assert close_code("/ws/patients/987654/", cookie) == NOT_FOUND


def test_another_sites_diagnostic_and_patient_close_with_4404_like_unknown_ones(
    client, clinician, other_site
):
    elsewhere = DiagnosticFactory(recording__patient=PatientFactory(site=other_site))
    cookie = session_cookie(client, clinician)

    assert close_code(f"/ws/diagnostics/{elsewhere.pk}/", cookie) == NOT_FOUND
    assert close_code(f"/ws/patients/{elsewhere.patient_id}/", cookie) == NOT_FOUND
    denials = AuditEvent.objects.filter(action="access.denied").order_by("id")
    assert [(e.actor, e.detail["method"], e.detail["close_code"]) for e in denials] == [
        (clinician, "WEBSOCKET", NOT_FOUND), (clinician, "WEBSOCKET", NOT_FOUND),
    ]  # fmt: skip
    assert [e.detail["arguments"] for e in denials] == [
        {"pk": str(elsewhere.pk)}, {"pk": str(elsewhere.patient_id)},
    ]  # fmt: skip


def test_a_researcher_sees_no_identified_live_results(client, site):
    researcher = UserFactory(username="researcher")
    MembershipFactory(user=researcher, site=site, role=Role.RESEARCHER)
    diagnostic = DiagnosticFactory(recording__patient=PatientFactory(site=site))
    cookie = session_cookie(client, researcher)

    assert close_code(f"/ws/diagnostics/{diagnostic.pk}/", cookie) == NOT_FOUND
    assert close_code(f"/ws/patients/{diagnostic.patient_id}/", cookie) == NOT_FOUND


def test_connecting_after_the_result_gets_it_at_once(client, clinician, site):
    diagnostic = succeeded(
        label="anomaly", confidence=0.91, recording__patient=PatientFactory(site=site)
    )
    cookie = session_cookie(client, clinician)

    async def scenario():
        socket = Socket(f"/ws/diagnostics/{diagnostic.pk}/", cookie)
        accepted, _ = await socket.connect()
        assert accepted
        first = await socket.receive_json()
        await socket.disconnect()
        return first

    message = async_to_sync(scenario)()

    assert message["type"] == "diagnostic" and message["id"] == diagnostic.pk
    assert message["status"] == "succeeded"
    assert message["label"] == "anomaly" and message["confidence"] == 0.91
    assert message["model_version"] == str(diagnostic.model_version)
    assert message["queue_position"] is None
    assert set(message) >= {"updated_at", "synthetic_model", "error"}


def test_a_published_change_reaches_the_diagnostics_and_the_patients_subscribers(
    client, clinician, site
):
    patient = PatientFactory(site=site)
    diagnostic = DiagnosticFactory(recording__patient=patient)
    bystander = DiagnosticFactory(recording__patient=PatientFactory(site=site))
    cookie = session_cookie(client, clinician)

    async def scenario():
        watchers = []
        for path in (f"/ws/diagnostics/{diagnostic.pk}/", f"/ws/patients/{patient.pk}/"):
            socket = Socket(path, cookie)
            accepted, _ = await socket.connect()
            assert accepted
            snapshot = await socket.receive_json()
            assert snapshot["id"] == diagnostic.pk and snapshot["status"] == "queued"
            watchers.append(socket)
        await start_analysis(bystander)  # another patient's change reaches neither
        await start_analysis(diagnostic)
        received = [await w.receive_json() for w in watchers]
        quiet = [await w.receive_nothing(timeout=0.5) for w in watchers]
        for socket in watchers:
            await socket.disconnect()
        return received, quiet

    received, quiet = async_to_sync(scenario)()

    assert [(m["id"], m["status"]) for m in received] == [(diagnostic.pk, "running")] * 2
    assert quiet == [True, True]


def test_a_diagnostics_socket_keeps_only_its_own_of_its_patients_changes(client, clinician, site):
    """Changes go to the patient's group; a diagnostic's socket passes on its own alone."""
    patient = PatientFactory(site=site)
    diagnostic = DiagnosticFactory(recording__patient=patient)
    sibling = DiagnosticFactory(recording__patient=patient)
    cookie = session_cookie(client, clinician)

    async def scenario():
        own = Socket(f"/ws/diagnostics/{diagnostic.pk}/", cookie)
        everyone = Socket(f"/ws/patients/{patient.pk}/", cookie)
        assert (await own.connect())[0] and (await everyone.connect())[0]
        await own.receive_json()
        [await everyone.receive_json() for _ in range(2)]  # the snapshot: both diagnostics
        await start_analysis(sibling)
        await start_analysis(diagnostic)
        seen_by_own = [await own.receive_json()]
        own_quiet = await own.receive_nothing(timeout=0.5)
        seen_by_everyone = [await everyone.receive_json() for _ in range(2)]
        for socket in (own, everyone):
            await socket.disconnect()
        return seen_by_own, own_quiet, seen_by_everyone

    seen_by_own, own_quiet, seen_by_everyone = async_to_sync(scenario)()

    assert [(m["id"], m["status"]) for m in seen_by_own] == [(diagnostic.pk, "running")]
    assert own_quiet
    assert [m["id"] for m in seen_by_everyone] == [sibling.pk, diagnostic.pk]


def test_a_rendered_spectrogram_is_announced_to_the_patients_sockets_only(client, clinician, site):
    patient = PatientFactory(site=site)
    diagnostic = DiagnosticFactory(recording__patient=patient)
    cookie = session_cookie(client, clinician)

    async def scenario():
        own = Socket(f"/ws/diagnostics/{diagnostic.pk}/", cookie)
        everyone = Socket(f"/ws/patients/{patient.pk}/", cookie)
        assert (await own.connect())[0] and (await everyone.connect())[0]
        await own.receive_json()
        await everyone.receive_json()
        await database_sync_to_async(live.publish_spectrogram)(diagnostic.recording)
        message = await everyone.receive_json()
        own_quiet = await own.receive_nothing(timeout=0.5)
        for socket in (own, everyone):
            await socket.disconnect()
        return message, own_quiet

    message, own_quiet = async_to_sync(scenario)()

    assert message == {"type": "spectrogram", "recording": diagnostic.recording_id,
                       "patient": patient.pk}  # fmt: skip
    assert own_quiet  # a diagnostic's socket says only what its diagnostic does


@pytest.mark.parametrize("consumer", [DiagnosticConsumer, PatientConsumer])
def test_a_change_made_just_after_the_state_is_read_still_arrives(
    client, clinician, site, monkeypatch, consumer
):
    """The socket joins its group before it reads the state it sends first, so a change made
    between the two is not lost: it follows the state."""
    patient = PatientFactory(site=site)
    diagnostic = DiagnosticFactory(recording__patient=patient)
    cookie = session_cookie(client, clinician)

    read_state = consumer.__dict__["_snapshot"]  # database_sync_to_async binds it to the socket

    async def read_state_then_change(self, user, pk):
        messages = await read_state.__get__(self, type(self))(user, pk)
        await start_analysis(diagnostic)  # after the read, before the socket is accepted
        return messages

    monkeypatch.setattr(consumer, "_snapshot", read_state_then_change)
    path = (
        f"/ws/diagnostics/{diagnostic.pk}/"
        if consumer is DiagnosticConsumer
        else f"/ws/patients/{patient.pk}/"
    )

    async def scenario():
        socket = Socket(path, cookie)
        assert (await socket.connect())[0]
        received = [await socket.receive_json() for _ in range(2)]
        await socket.disconnect()
        return received

    received = async_to_sync(scenario)()

    assert [(m["id"], m["status"]) for m in received] == [
        (diagnostic.pk, "queued"),
        (diagnostic.pk, "running"),
    ]


def test_watching_a_patient_or_a_diagnostic_live_is_audited(client, clinician, site):
    patient = PatientFactory(site=site)
    diagnostic = DiagnosticFactory(recording__patient=patient)
    cookie = session_cookie(client, clinician)

    for path in (f"/ws/patients/{patient.pk}/", f"/ws/diagnostics/{diagnostic.pk}/"):
        assert close_code(path, cookie) is None

    watched = AuditEvent.objects.filter(actor=clinician, patient=patient)
    assert sorted(watched.values_list("action", "object_id")) == [
        ("diagnostic.watched", str(diagnostic.pk)),
        ("patient.watched", str(patient.pk)),
    ]
