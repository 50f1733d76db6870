"""Signing in and out, changing the password, and the idle-session warning's keep-alive."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.utils import timezone

from portal.core.sessions import RENEWED_AT
from tests.portal.page_helpers import text_of

pytestmark = pytest.mark.django_db


def test_signing_in_leads_to_the_page_asked_for(client, clinician):
    response = client.post("/accounts/login/?next=/review/",
                           {"username": "clin", "password": "a-long-test-password",
                            "next": "/review/"})  # fmt: skip

    assert response.status_code == 302 and response["Location"] == "/review/"


def test_a_wrong_password_says_so_without_saying_which_part(client, clinician):
    response = client.post("/accounts/login/", {"username": "clin", "password": "nope"})

    assert "The user name and password do not match." in text_of(response)


def test_signing_out_is_a_post_and_ends_the_session(signed_in):
    assert signed_in.get("/accounts/logout/").status_code == 405

    response = signed_in.post("/accounts/logout/")

    assert "You have signed out" in text_of(response)
    response = signed_in.get("/patients/")

    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/patients/"


def test_the_password_can_be_changed(signed_in):
    response = signed_in.post("/accounts/password_change/", {
        "old_password": "a-long-test-password",
        "new_password1": "another-long-passphrase-9", "new_password2": "another-long-passphrase-9",
    })  # fmt: skip

    assert response["Location"] == "/accounts/password_change/done/"


def test_pages_tell_the_warning_script_the_idle_timeout(signed_in):
    html = signed_in.get("/").content.decode()

    shortest = settings.SESSION_COOKIE_AGE - settings.SESSION_RENEW_SECONDS
    assert f'data-session-age="{shortest}"' in html
    assert f'data-session-warning="{settings.SESSION_EXPIRY_WARNING_SECONDS}"' in html
    assert 'data-keepalive-url="/accounts/session/"' in html


def test_the_keep_alive_renews_a_live_session_and_refuses_an_ended_one(signed_in, client):
    assert signed_in.post("/accounts/session/").status_code == 204

    signed_in.logout()
    assert signed_in.post("/accounts/session/").status_code == 302


def _expiry(client):
    return Session.objects.get(session_key=client.session.session_key).expire_date


def test_requests_renew_the_idle_timeout_at_most_once_a_renewal_interval(signed_in):
    """The session row is written when renewal is due, not on every request."""
    signed_in.get("/")
    first = _expiry(signed_in)
    signed_in.get("/patients/")
    assert _expiry(signed_in) == first  # within the interval: not rewritten

    session = signed_in.session
    session[RENEWED_AT] -= settings.SESSION_RENEW_SECONDS
    session.save()
    stale = _expiry(signed_in)
    signed_in.get("/patients/")
    assert _expiry(signed_in) > stale  # due: renewed

    renewed = _expiry(signed_in)
    assert signed_in.post("/accounts/session/").status_code == 204
    assert _expiry(signed_in) >= renewed  # the keep-alive renews even within the interval


def test_a_session_idle_past_the_timeout_is_signed_out(signed_in):
    signed_in.get("/")
    Session.objects.filter(session_key=signed_in.session.session_key).update(
        expire_date=timezone.now() - timedelta(seconds=1)
    )

    response = signed_in.get("/patients/")

    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/patients/"
