"""``/healthz`` and ``/readyz``: readiness names the part that is down and never crashes."""

import json
import urllib.error
import urllib.request

import pytest

from tests.processes import asgi_server, free_port


def get_json(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_healthz_answers_while_the_process_is_alive(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readyz_is_200_when_database_redis_and_storage_answer(client):
    response = client.get("/readyz")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert {name: check["ok"] for name, check in body["checks"].items()} == {
        "database": True,
        "redis": True,
        "storage": True,
    }


@pytest.mark.slow
def test_readyz_names_the_database_when_postgresql_is_unreachable(process_env, tmp_path):
    env = process_env | {
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:{free_port()}/portal",
        "DATABASE_POOL_TIMEOUT": "2",
        "DATABASE_CONNECT_TIMEOUT": "2",
    }
    server = asgi_server(env, tmp_path)
    try:
        status, body = get_json(f"{server.url}/readyz")
        # The process survives the failure and keeps answering.
        status_again, _ = get_json(f"{server.url}/readyz")
    finally:
        server.stop()

    assert (status, status_again) == (503, 503)
    assert body["failing"] == ["database"]
    assert body["message"] == "Not ready: database unreachable."
    assert body["checks"]["redis"]["ok"] and body["checks"]["storage"]["ok"]


@pytest.mark.slow
def test_readyz_names_redis_when_redis_is_unreachable(process_env, tmp_path):
    env = process_env | {"REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"}
    server = asgi_server(env, tmp_path)
    try:
        status, body = get_json(f"{server.url}/readyz")
        health_status, _ = get_json(f"{server.url}/healthz")
    finally:
        server.stop()

    assert status == 503
    assert body["failing"] == ["redis"]
    assert body["checks"]["database"]["ok"] is True
    assert health_status == 200, "liveness must not depend on Redis"
