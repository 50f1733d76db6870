"""Upload → real Celery worker → result over the WebSocket, against the running ASGI server."""

import asyncio
import json

import httpx
import pytest
import websockets
from django.conf import settings

from diagnostics.models import Diagnostic, DiagnosticStatus
from tests.factories import PatientFactory
from tests.media_assets.uploading import cough_wav
from tests.processes import asgi_server, celery_worker

pytestmark = pytest.mark.slow


def session_cookie(client, user) -> str:
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


async def collect(url: str, cookie: str, until: str, timeout: float = 90) -> list[dict]:
    messages = []
    async with websockets.connect(
        url, additional_headers={"Cookie": cookie, "Origin": "http://127.0.0.1"}
    ) as socket:
        async with asyncio.timeout(timeout):
            while not messages or messages[-1]["status"] != until:
                messages.append(json.loads(await socket.recv()))
    return messages


def test_an_upload_is_analysed_by_the_worker_and_the_result_arrives_live(
    client, clinician, site, production_model, worker_env, tmp_path
):
    patient = PatientFactory(site=site)
    cookie = session_cookie(client, clinician)
    server = asgi_server(worker_env, tmp_path)
    worker = celery_worker(worker_env, tmp_path, queues="inference", name="inference")
    ws_base = server.url.replace("http://", "ws://")
    try:

        async def scenario():
            listener = asyncio.create_task(
                collect(f"{ws_base}/ws/patients/{patient.pk}/", cookie, until="succeeded")
            )
            await asyncio.sleep(0.5)  # subscribed before the upload
            async with httpx.AsyncClient(timeout=60) as http:
                token = await http.post(
                    f"{server.url}/api/v1/auth/token/",
                    json={"username": clinician.username, "password": "a-long-test-password"},
                )
                response = await http.post(
                    f"{server.url}/api/v1/recordings/",
                    headers={"Authorization": f"Bearer {token.json()['access']}"},
                    data={"patient": str(patient.pk), "kind": "cough"},
                    files={"file": ("c.wav", cough_wav(seed=71), "audio/wav")},
                )
            return response, await listener

        response, messages = asyncio.run(scenario())
        assert response.status_code == 201, response.text
    finally:
        worker.stop()
        server.stop()

    statuses = [m["status"] for m in messages]
    assert statuses[:1] == ["queued"] and statuses[-1] == "succeeded", (statuses, worker.output())
    assert "running" in statuses
    result = messages[-1]
    assert result["label"] in {"healthy", "anomaly", "inconclusive"}
    assert 0 <= result["confidence"] <= 1
    assert result["model_version"] == "tiny-test-model 1" and result["synthetic_model"] is True
    diagnostic = Diagnostic.objects.get(pk=result["id"])
    assert diagnostic.status == DiagnosticStatus.SUCCEEDED and diagnostic.attempts == 1
    assert len(diagnostic.embedding) == 64 * 4
