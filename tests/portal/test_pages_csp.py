"""The pages hold under a strict Content-Security-Policy: no inline script or style, scripts and
styles only from our own files, the microphone only for our own pages."""

import re

import pytest

from tests.factories import PatientFactory
from tests.factories_clinical import failed, succeeded

pytestmark = pytest.mark.django_db


def urls(site):
    patient = PatientFactory(site=site)
    result = succeeded(recording__patient=patient)
    failed(recording__patient=patient)
    return ["/", "/patients/", "/patients/new/", f"/patients/{patient.pk}/",
            f"/patients/{patient.pk}/edit/", f"/diagnostics/{result.pk}/", "/review/",
            "/accounts/password_change/", "/no-such-page/"]  # fmt: skip


def test_every_page_sends_the_policy(signed_in, site):
    for url in urls(site):
        response = signed_in.get(url)
        # The policy is checked on the page itself, rendered in the layout, not on a redirect.
        assert response.status_code == (404 if url == "/no-such-page/" else 200), url
        assert b'<link rel="stylesheet"' in response.content, url
        policy = response["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "style-src 'self'" in policy, url
        assert "unsafe-inline" not in policy and "unsafe-eval" not in policy


def test_no_page_has_inline_script_inline_style_or_inline_handlers(signed_in, site):
    for url in urls(site):
        html = signed_in.get(url).content.decode()
        for tag in re.findall(r"<script\b[^>]*>", html):
            assert " src=" in tag, (url, tag)
        assert not re.search(r"<style\b", html), url
        assert not re.search(r"\sstyle=", html), url
        assert not re.search(r"\son[a-z]+=", html), url


def test_the_sign_in_page_is_covered_and_the_admin_is_left_alone(client):
    assert "script-src 'self'" in client.get("/accounts/login/")["Content-Security-Policy"]
    assert "Content-Security-Policy" not in client.get("/admin/login/")
