"""Helpers the security regression tests share: sign-in requests from a chosen address, and the
console log handler's output captured as the operator would read it."""

import contextlib
import io
import json
import logging

from django.test import Client

TOKEN_URL = "/api/v1/auth/token/"
LOGIN_URL = "/accounts/login/"


def token_request(username: str, password: str, *, address: str, forwarded_for: str = ""):
    """``POST /api/v1/auth/token/`` as a client whose TCP peer is ``address``."""
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    return Client(REMOTE_ADDR=address).post(
        TOKEN_URL, {"username": username, "password": password}, headers=headers
    )


def form_sign_in(username: str, password: str, *, address: str):
    """The sign-in form, posted as a browser at ``address`` would."""
    return Client(REMOTE_ADDR=address).post(LOGIN_URL, {"username": username, "password": password})


@contextlib.contextmanager
def console_log_lines():
    """The JSON lines the project's console handler writes while the block runs."""
    handler = next(h for h in logging.getLogger("django.request").handlers if h.name == "console")
    buffer = io.StringIO()
    previous = handler.setStream(buffer)
    lines: list[dict] = []
    try:
        yield lines
    finally:
        handler.setStream(previous)
        lines.extend(json.loads(line) for line in buffer.getvalue().splitlines() if line)
