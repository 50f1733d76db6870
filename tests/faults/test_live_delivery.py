"""Live results cannot be lost silently: a page whose socket misses messages (a full channel, a
dropped group membership) still shows every result, because it reconciles with the server's
list of the patient's pending results; the channel layer holds a burst's messages for a page that
is slow to read them; and a channel whose socket died without a goodbye leaves the patient's
group within the group expiry, while live sockets renew their membership."""

import asyncio
import json
import os
import shutil
import threading
import time

import httpx
import pytest
import redis
import websockets
from asgiref.sync import async_to_sync
from channels.layers import channel_layers
from django.conf import settings

from diagnostics import live
from diagnostics.models import Diagnostic, DiagnosticStatus
from tests.factories import PatientFactory
from tests.faults.storage_faults import summary
from tests.media_assets.uploading import cough_wav
from tests.processes import asgi_server, celery_worker

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

CHROMIUM = os.environ.get("E2E_CHROMIUM", "/usr/bin/chromium")
PASSWORD = "a-long-test-password"  # tests.factories.UserFactory's
FINISHED = ("succeeded", "failed")


def group_key(patient_id: int) -> str:
    return f"{settings.CHANNEL_LAYERS['default']['CONFIG']['prefix']}:group:{live.patient_group(patient_id)}"


def test_a_burst_for_one_patient_is_held_for_a_page_that_reads_it_late():
    burst = 600  # one patient's 300 uploads: a "running" and a result each

    async def scenario():
        # A layer of its own, as configured: the process's shared one keeps its connections on
        # the loop of the live publisher.
        layer = channel_layers.make_backend("default")
        channel = await layer.new_channel()  # a page's socket that is busy for a moment
        await layer.group_add("patient-burst", channel)
        for number in range(burst):
            await layer.group_send("patient-burst", {"type": "diagnostic.update", "n": number})
        received = []
        while len(received) < burst:
            try:
                async with asyncio.timeout(2):
                    received.append((await layer.receive(channel))["n"])
            except TimeoutError:
                break
        await layer.group_discard("patient-burst", channel)
        await layer.close_pools()
        return received

    received = async_to_sync(scenario)()

    assert received == list(range(burst))


async def listen(url: str, cookie: str, stop: asyncio.Event, seen: list) -> None:
    async with websockets.connect(
        url, additional_headers={"Cookie": cookie, "Origin": "http://127.0.0.1"}
    ) as socket:
        while not stop.is_set():
            try:
                async with asyncio.timeout(0.2):
                    seen.append(json.loads(await socket.recv()))
            except TimeoutError:
                continue


def session_cookie(client, user) -> str:
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


def test_a_dead_socket_leaves_the_group_and_a_live_one_stays_in_it(
    process_env, tmp_path, client, clinician, site, request, settings
):
    patient = PatientFactory(site=site)
    # The server and this test (which publishes, as a worker would) with a 3-second expiry.
    env = {**process_env, "CHANNEL_GROUP_EXPIRY_S": "3"}
    layer = settings.CHANNEL_LAYERS["default"]
    settings.CHANNEL_LAYERS = {
        "default": {**layer, "CONFIG": {**layer["CONFIG"], "group_expiry": 3}}
    }
    server = asgi_server(env, tmp_path)
    broker = redis.Redis.from_url(settings.REDIS_URL)
    key = group_key(patient.pk)
    url = f"{server.url.replace('http://', 'ws://')}/ws/patients/{patient.pk}/"
    cookie = session_cookie(client, clinician)
    try:

        async def scenario():
            stop, seen = asyncio.Event(), []
            listener = asyncio.create_task(listen(url, cookie, stop, seen))
            await asyncio.sleep(1)
            # A socket whose process died: its channel joined and will never leave by itself.
            broker.zadd(key, {"specific.dead!channel": time.time()})
            await asyncio.sleep(5)  # past the expiry: only a renewed membership is still there
            diagnostic = Diagnostic(pk=10**9, patient=patient, status=DiagnosticStatus.RUNNING)
            await asyncio.to_thread(live.publish_many, [diagnostic])
            await asyncio.sleep(1)
            members = {m.decode() for m in broker.zrange(key, 0, -1)}
            stop.set()
            await listener
            return seen, members

        seen, members = asyncio.run(scenario())
    finally:
        server.stop()
        broker.close()

    summary(request, "group expiry", members=len(members),
            dead_left="specific.dead!channel" not in members,
            live_received=sum(1 for m in seen if m.get("id") == 10**9))  # fmt: skip
    assert "specific.dead!channel" not in members
    assert len(members) == 1  # the live socket, renewed
    assert any(m.get("id") == 10**9 for m in seen), "the live socket left the group"


def browse_patient_page(base_url, cookie_value, patient_id, expected, ready, uploaded, outcome):
    """In a thread of its own (Playwright's loop must not be the test's): open the patient's
    page, say when it is live, and once the uploads are done wait until every card is final."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"]
        )
        context = browser.new_context()
        context.add_cookies(
            [{"name": settings.SESSION_COOKIE_NAME, "value": cookie_value, "url": base_url}]
        )
        page = context.new_page()
        errors = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(f"{base_url}/patients/{patient_id}/")
        statuses = "[...document.querySelectorAll('.result[data-diagnostic-id]')].map(e => e.dataset.status)"
        deadline = time.monotonic() + 15
        while "Live" not in (page.text_content("[data-live-state]") or ""):
            assert time.monotonic() < deadline, "the page's socket did not open"
            page.wait_for_timeout(100)
        ready.set()
        uploaded.wait(120)
        started = time.monotonic()
        final = []
        while time.monotonic() - started < 45:
            final = page.evaluate(statuses)
            if len(final) >= expected() and all(s in FINISHED for s in final):
                break
            page.wait_for_timeout(250)
        outcome.update(statuses=final, after_s=time.monotonic() - started, errors=errors)
        browser.close()


@pytest.mark.e2e
@pytest.mark.usefixtures("production_model")
def test_every_result_of_a_burst_reaches_an_open_page_even_when_its_messages_are_lost(
    process_env, tmp_path, client, clinician, site, request
):
    if not (shutil.which(CHROMIUM) or os.path.exists(CHROMIUM)):
        if os.environ.get("CI") == "true":
            pytest.fail(f"no browser at {CHROMIUM}")
        pytest.skip(f"no browser at {CHROMIUM}: apt-get install -y chromium")
    patient = PatientFactory(site=site)
    cookie = session_cookie(client, clinician).split("=", 1)[1]
    env = {**process_env, "MODEL_CACHE_DIR": str(tmp_path / "model-cache"),
           "TF_CPP_MIN_LOG_LEVEL": "2"}  # fmt: skip
    server = asgi_server(env, tmp_path)
    worker = celery_worker(env, tmp_path, queues="inference", name="inference")
    broker = redis.Redis.from_url(settings.REDIS_URL)
    ready, uploaded, outcome = threading.Event(), threading.Event(), {}
    accepted, statuses = [], []
    browser = threading.Thread(
        target=browse_patient_page,
        args=(server.url, cookie, patient.pk, lambda: len(accepted), ready, uploaded, outcome),
    )
    browser.start()
    try:
        assert ready.wait(60), "the page did not open"
        with httpx.Client(timeout=60) as http:
            token = http.post(
                f"{server.url}/api/v1/auth/token/",
                json={"username": clinician.username, "password": PASSWORD},
            ).json()["access"]
            for number in range(24):
                if number == 8:
                    # Messages lost from here on, as when the page's channel was over capacity.
                    broker.delete(group_key(patient.pk))
                response = http.post(
                    f"{server.url}/api/v1/recordings/",
                    headers={"Authorization": f"Bearer {token}"},
                    data={"patient": str(patient.pk), "kind": "cough"},
                    files={"file": (f"c{number}.wav", cough_wav(seed=400 + number), "audio/wav")},
                )
                statuses.append(response.status_code)
                if response.status_code == 201:
                    accepted.append(response.json()["diagnostic"]["id"])
        uploaded.set()
        browser.join(120)
    finally:
        uploaded.set()
        worker.stop()
        server.stop()
        broker.close()

    shown = outcome.get("statuses", [])
    summary(request, "live delivery (burst, messages lost)", uploads=len(statuses),
            accepted=len(accepted), shown=len(shown),
            left_unfinished=sum(1 for s in shown if s not in FINISHED),
            after_s=round(outcome.get("after_s", -1), 1))  # fmt: skip
    assert statuses == [201] * len(statuses)
    assert outcome.get("errors") == []
    finished = Diagnostic.objects.filter(pk__in=accepted, status__in=FINISHED).count()
    assert finished == len(accepted)
    assert len(shown) == len(accepted)
    assert [s for s in shown if s not in FINISHED] == []
