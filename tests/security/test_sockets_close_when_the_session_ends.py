"""Finding 7: a live socket opened before signing out kept receiving that patient's results
(label, confidence). Now a socket closes (code 4401) when the session that opened it ends: signed
out, idle past its timeout, its password changed, or its user's membership removed."""

import time
from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from django.contrib.sessions.models import Session
from django.test import Client
from django.utils import timezone

from diagnostics import live
from diagnostics.models import DiagnosticStatus
from tests.diagnostics.sockets import Socket, session_cookie
from tests.factories import PatientFactory, UserFactory, verified_login
from tests.factories_clinical import DiagnosticFactory
from tests.security.auth_helpers import PASSWORD, membership_of

pytestmark = pytest.mark.django_db(transaction=True)

SESSION_ENDED = 4401
WAIT_S = 10
ABOUT_TO_IDLE_S = 5  # time enough to open the socket before the session's idle timeout


@database_sync_to_async
def publish_result(diagnostic):
    diagnostic.status = DiagnosticStatus.SUCCEEDED
    diagnostic.label = "anomaly"
    diagnostic.confidence = 0.93
    diagnostic.finished_at = timezone.now()
    diagnostic.save()
    live.publish(diagnostic)


def watch_then(cookie, diagnostic, event, *, publish=True) -> dict:
    """Open the patient's socket, take the snapshot, run ``event``, publish a result: what comes
    next on the socket."""

    async def scenario():
        socket = Socket(f"/ws/patients/{diagnostic.patient_id}/", cookie)
        assert (await socket.connect())[0]
        await socket.receive_json()
        await database_sync_to_async(event)()
        if publish:
            await publish_result(diagnostic)
        output = await socket.receive_output(WAIT_S)
        await socket.disconnect()
        return output

    return async_to_sync(scenario)()


@pytest.fixture
def watched(client, clinician, site):
    diagnostic = DiagnosticFactory(recording__patient=PatientFactory(site=site))
    return diagnostic, session_cookie(client, clinician)


def assert_closed(output):
    assert output["type"] == "websocket.close", output  # not the result (label, confidence)
    assert output["code"] == SESSION_ENDED


def test_signing_out_closes_the_sessions_socket(client, watched):
    diagnostic, cookie = watched

    assert_closed(watch_then(cookie, diagnostic, lambda: client.post("/accounts/logout/")))


def test_a_password_change_elsewhere_closes_the_socket(clinician, watched):
    diagnostic, cookie = watched

    def change_password():
        other = Client()
        other.force_login(clinician)
        new = "another-long-password-2"
        response = other.post(
            "/accounts/password_change/",
            {"old_password": PASSWORD, "new_password1": new, "new_password2": new},
        )
        assert response.status_code == 302

    assert_closed(watch_then(cookie, diagnostic, change_password))


def expire_session_at(cookie, when):
    key = cookie.split("=", 1)[1]
    Session.objects.filter(session_key=key).update(expire_date=when)


def wait_until(when):
    time.sleep(max((when - timezone.now()).total_seconds(), 0) + 0.1)


def test_an_idle_session_closes_its_socket_on_the_next_message(watched):
    """The socket learns the session's expiry when it checks it (here on connect); a message due
    after it asks the database again, which finds the session ended."""
    diagnostic, cookie = watched
    expiry = timezone.now() + timedelta(seconds=ABOUT_TO_IDLE_S)
    expire_session_at(cookie, expiry)

    assert_closed(watch_then(cookie, diagnostic, lambda: wait_until(expiry)))


def test_a_session_kept_alive_keeps_its_socket_past_the_expiry_it_first_read(client, watched):
    diagnostic, cookie = watched
    expiry = timezone.now() + timedelta(seconds=ABOUT_TO_IDLE_S)
    expire_session_at(cookie, expiry)

    def active_past_that_expiry():
        assert client.post("/accounts/session/").status_code == 204  # renews the idle timeout
        wait_until(expiry)

    output = watch_then(cookie, diagnostic, active_past_that_expiry)

    assert output["type"] == "websocket.send" and '"anomaly"' in output["text"]


def test_a_session_ended_unannounced_closes_its_socket_on_a_message_after_a_while(
    settings, watched
):
    """A session ended with no message to its sockets (its row changed by other means): the next
    message once the socket's last check is older than SOCKET_SESSION_TRUST_SECONDS closes it."""
    settings.SOCKET_SESSION_TRUST_SECONDS = 0.2
    diagnostic, cookie = watched

    def ended_a_while_ago():
        expire_session_at(cookie, timezone.now() - timedelta(seconds=1))
        time.sleep(0.3)

    assert_closed(watch_then(cookie, diagnostic, ended_a_while_ago))


def test_an_idle_session_closes_its_socket_with_no_message_at_all(settings, watched):
    settings.SOCKET_SESSION_CHECK_SECONDS = 0.2
    diagnostic, cookie = watched

    def idle_past_the_timeout():
        expire_session_at(cookie, timezone.now() - timedelta(seconds=1))

    assert_closed(watch_then(cookie, diagnostic, idle_past_the_timeout, publish=False))


def test_removing_the_membership_closes_the_socket(clinician, watched):
    diagnostic, cookie = watched

    def remove_membership():
        admin = Client()
        verified_login(admin, UserFactory(username="root", is_staff=True, is_superuser=True))
        membership = membership_of(clinician)
        response = admin.post(f"/admin/portal/membership/{membership.pk}/delete/", {"post": "yes"})
        assert response.status_code == 302

    assert_closed(watch_then(cookie, diagnostic, remove_membership))


def test_a_socket_of_a_live_session_still_gets_its_results(watched):
    diagnostic, cookie = watched

    output = watch_then(cookie, diagnostic, lambda: None)

    assert output["type"] == "websocket.send" and '"anomaly"' in output["text"]


def test_signing_out_elsewhere_leaves_this_sessions_socket_open(clinician, watched):
    """Signing out ends one session: the same user's socket from another browser stays."""
    diagnostic, cookie = watched

    def sign_out_of_another_browser():
        other = Client()
        other.force_login(clinician)
        other.post("/accounts/logout/")

    output = watch_then(cookie, diagnostic, sign_out_of_another_browser)

    assert output["type"] == "websocket.send" and '"anomaly"' in output["text"]
