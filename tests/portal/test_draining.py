"""A web process told to stop (SIGTERM) drains: ``/readyz`` says 503 ``draining`` at once while it
still serves, each response closes its connection, it stops listening only after
``WEB_DRAIN_DELAY_S``, closes open WebSockets with 1012 ("service restart"), and finishes the
upload in flight. A real uvicorn process."""

import signal
import threading
import time

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect as ws_connect

from diagnostics.models import Diagnostic
from tests.diagnostics.sockets import session_cookie
from tests.factories import PatientFactory
from tests.faults.outages import PASSWORD
from tests.media_assets.uploading import cough_wav
from tests.processes import asgi_server, http_status

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180), pytest.mark.django_db(transaction=True)]

DRAIN_DELAY_S = 2.0


def slow_upload(base_url: str, token: str, patient, started: threading.Event, outcome: dict):
    """An upload whose body takes about 3.5 s to arrive: in flight across the whole drain."""
    request = httpx.Request(
        "POST", f"{base_url}/api/v1/recordings/", headers={"Authorization": f"Bearer {token}"},
        data={"patient": str(patient.pk), "kind": "cough"},
        files={"file": ("cough.wav", cough_wav(seed=700), "audio/wav")},
    )  # fmt: skip
    body = request.read()

    def trickle():
        step = len(body) // 8 + 1
        for start in range(0, len(body), step):
            yield body[start : start + step]
            started.set()
            time.sleep(0.45)

    headers = {k: v for k, v in request.headers.items() if k.lower() != "transfer-encoding"}
    headers["Content-Length"] = str(len(body))
    with httpx.Client(timeout=30) as http:
        response = http.post(request.url, headers=headers, content=trickle())
    outcome.update(status=response.status_code, body=response.json(), at=time.monotonic())


def listen(url: str, cookie: str, origin: str, opened: threading.Event, outcome: dict) -> None:
    with ws_connect(url, additional_headers={"Cookie": cookie, "Origin": origin}) as socket:
        opened.set()
        try:
            while True:
                socket.recv(timeout=30)
        except ConnectionClosed as closed:
            outcome.update(code=closed.rcvd.code if closed.rcvd else 1006, at=time.monotonic())


def test_a_web_process_told_to_stop_drains_then_finishes_what_is_in_flight(
    process_env, tmp_path, client, clinician, site
):
    patient = PatientFactory(site=site)
    server = asgi_server({**process_env, "WEB_DRAIN_DELAY_S": str(DRAIN_DELAY_S)}, tmp_path)
    socket_url = f"{server.url.replace('http://', 'ws://')}/ws/patients/{patient.pk}/"
    cookie = session_cookie(client, clinician)
    uploaded, closed, opened, started = {}, {}, threading.Event(), threading.Event()
    try:
        token = httpx.post(
            f"{server.url}/api/v1/auth/token/",
            json={"username": clinician.username, "password": PASSWORD}, timeout=30,
        ).json()["access"]  # fmt: skip
        threads = [
            threading.Thread(target=listen, args=(socket_url, cookie, server.url, opened, closed)),
            threading.Thread(target=slow_upload, args=(server.url, token, patient, started, uploaded)),
        ]  # fmt: skip
        threads[0].start()
        assert opened.wait(30), "the socket did not open"
        threads[1].start()
        assert started.wait(30), "the upload did not start"

        server.proc.send_signal(signal.SIGTERM)  # the main process, as Kubernetes sends it
        signalled = time.monotonic()
        time.sleep(0.3)
        ready = httpx.get(f"{server.url}/readyz", timeout=10)
        alive = httpx.get(f"{server.url}/healthz", timeout=10)
        answered_at = time.monotonic()
        while http_status(f"{server.url}/healthz", 1) is not None:
            assert time.monotonic() - signalled < 15, "still listening"
            time.sleep(0.1)
        stopped_listening = time.monotonic() - signalled
        for thread in threads:
            thread.join(30)
        server.proc.wait(timeout=30)
    finally:
        server.stop()

    assert answered_at - signalled < DRAIN_DELAY_S  # served during the delay
    assert (ready.status_code, ready.json()["status"]) == (503, "draining")
    assert alive.status_code == 200 and alive.headers["connection"] == "close"
    assert DRAIN_DELAY_S <= stopped_listening < DRAIN_DELAY_S + 3
    assert closed["code"] == 1012 and closed["at"] - signalled >= DRAIN_DELAY_S
    # The upload still arriving when the process stopped listening was finished and stored.
    assert uploaded["status"] == 201, uploaded
    assert uploaded["at"] - signalled > DRAIN_DELAY_S
    assert Diagnostic.objects.filter(pk=uploaded["body"]["diagnostic"]["id"]).exists()
