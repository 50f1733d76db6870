"""Request ids: in the response header, on every log line of the request, and in Celery tasks."""

import json
import time
import urllib.request
from datetime import timedelta

import pytest
import redis
from django.conf import settings
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.utils import timezone

from portal.core.observability import REQUEST_ID_HEADER, request_id_var
from portal.core.tasks import purge_expired_sessions
from tests.processes import asgi_server, celery_worker


def json_lines(text: str) -> list[dict]:
    lines = []
    for line in text.splitlines():
        if line.startswith("{"):
            lines.append(json.loads(line))
    return lines


def test_every_response_carries_a_new_request_id(client):
    first = client.get("/healthz")[REQUEST_ID_HEADER]
    second = client.get("/healthz")[REQUEST_ID_HEADER]

    assert len(first) == 32 and first != second


def test_a_well_formed_upstream_request_id_is_kept_and_a_malformed_one_replaced(client):
    kept = client.get("/healthz", headers={"X-Request-ID": "lb-1234abcd"})
    replaced = client.get("/healthz", headers={"X-Request-ID": "bad id\nInjected: header"})

    assert kept[REQUEST_ID_HEADER] == "lb-1234abcd"
    assert replaced[REQUEST_ID_HEADER] != "bad id\nInjected: header"
    assert len(replaced[REQUEST_ID_HEADER]) == 32


@pytest.mark.slow
def test_server_log_lines_are_json_with_the_request_id_and_no_query_string(process_env, tmp_path):
    server = asgi_server(process_env, tmp_path)
    try:
        with urllib.request.urlopen(f"{server.url}/healthz?q=Smith-1961", timeout=10) as response:
            request_id = response.headers[REQUEST_ID_HEADER]
        time.sleep(0.3)
        output = server.output()
    finally:
        server.stop()

    access = [line for line in json_lines(output) if line.get("logger") == "portal.access"]
    assert access, output
    assert access[-1]["request_id"] == request_id
    assert access[-1]["route"] == "healthz"
    assert access[-1]["status"] == 200
    assert "Smith" not in output


@pytest.mark.slow
def test_a_task_enqueued_during_a_request_logs_with_that_request_id(process_env, tmp_path):
    expired = SessionStore()
    expired.create()
    Session.objects.filter(session_key=expired.session_key).update(
        expire_date=timezone.now() - timedelta(days=1)
    )
    # Earlier tests' uploads leave their own maintenance tasks (spectrograms) on the queue.
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    broker.delete("maintenance")
    broker.close()
    worker = celery_worker(process_env, tmp_path, queues="maintenance")
    token = request_id_var.set("req-from-the-web-1234")
    try:
        purge_expired_sessions.delay()
    finally:
        request_id_var.reset(token)
    try:
        deadline = time.monotonic() + 30
        while "task finished" not in worker.output() and time.monotonic() < deadline:
            time.sleep(0.2)
        output = worker.output()
    finally:
        worker.stop()

    task_lines = [
        line
        for line in json_lines(output)
        if line.get("task") == "portal.core.tasks.purge_expired_sessions"
        or line.get("logger") == "portal.core.tasks"
    ]
    assert {line["message"] for line in task_lines} >= {"task started", "task finished"}, output
    assert all(line["request_id"] == "req-from-the-web-1234" for line in task_lines)
    purged = [
        line for line in json_lines(output) if line.get("message") == "expired sessions purged"
    ]
    assert purged and purged[0]["request_id"] == "req-from-the-web-1234"
    assert not Session.objects.filter(session_key=expired.session_key).exists()
