"""Redis dies for several seconds under a running stack (web server, inference worker) and comes
back empty (issue 18.1: every API call, the token endpoint and WebSocket handshakes got 500, and
the worker took up to 10 s to reconnect).

While it is away, reads that need only PostgreSQL answer (the rate limits count in the process),
sign-in works, uploads are accepted and left to the sweeper, and a live socket is closed with
4503, which the page answers by polling; nothing is a 500. Once it is back the worker reconnects
within 2 s, and after the sweeper's pass every accepted upload has exactly one result, which a
page open throughout shows.
"""

import time

import httpx
import pytest

from diagnostics.models import Diagnostic
from tests.diagnostics.inference_steps import all_finished, inference_worker, wait_for
from tests.diagnostics.sockets import session_cookie
from tests.factories import PatientFactory
from tests.faults.live_page import LivePage
from tests.faults.outages import Tally, kill, sign_in, socket_answer, start_redis, sweep
from tests.processes import asgi_server, free_port

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

OUTAGE_S = 8  # long enough for Celery's default backoff (2 s, 4 s, 6 s …) to overshoot the return
CONNECTED = "Connected to redis://"


def test_a_redis_outage_is_answered_without_500s_and_every_upload_gets_one_result(
    client, clinician, site, production_model, worker_env, tmp_path, request
):
    port = free_port()
    env = {**worker_env, "REDIS_URL": f"redis://127.0.0.1:{port}/0",
           "INFERENCE_STUCK_QUEUED_S": "0"}  # fmt: skip
    patient = PatientFactory(site=site)
    cookie = session_cookie(client, clinician)
    tally = Tally("redis outage")

    processes, page = [start_redis(port, tmp_path, "redis-before")], None
    try:
        worker = inference_worker(env, tmp_path)
        server = asgi_server(env, tmp_path)
        processes += [worker, server]
        page = LivePage(server.url, patient.pk, cookie, tally)  # open throughout the outage
        page.wait_live()
        http = httpx.Client(base_url=server.url, timeout=30)
        token = sign_in(http, clinician, tally)
        for seed in range(2):
            tally.upload("upload", http, token, patient, seed)

        kill(processes[0])
        went = time.monotonic()
        for _ in range(5):
            tally.record(
                "list",
                http.get("/api/v1/diagnostics/", headers={"Authorization": f"Bearer {token}"}),
            )
        token = sign_in(http, clinician, tally) or token
        for seed in range(10, 15):
            tally.upload("upload", http, token, patient, seed)
        during = socket_answer(server.url, f"/ws/patients/{patient.pk}/", cookie)
        time.sleep(max(0.0, OUTAGE_S - (time.monotonic() - went)))

        connected = worker.output().count(CONNECTED)
        processes[0] = start_redis(port, tmp_path, "redis-after")
        reconnect_s = wait_for(
            lambda: worker.output().count(CONNECTED) > connected, within=30,
            what="the worker reconnected", logs=[worker],
        )  # fmt: skip
        after = socket_answer(server.url, f"/ws/patients/{patient.pk}/", cookie)
        sweep(env)
        wait_for(all_finished(*Diagnostic.objects.filter(pk__in=tally.accepted)), within=120,
                 what="every accepted upload finished", logs=[worker])  # fmt: skip
        page.wait_until_final(tally.accepted, within=30)
    finally:
        if page is not None:
            page.close()
        for process in reversed(processes):
            process.stop()

    tally.finish(
        request,
        workers=[worker],
        page=page,
        socket_during=during,
        reconnect_s=round(reconnect_s, 2),
    )
    assert tally.counts["list 200"] == 5 and tally.counts["token 200"] == 2
    assert during == ("close", 4503) and after == ("open", 0)
    assert reconnect_s <= 2
    assert tally.counts["upload 201"] == 7 and len(tally.accepted) == 7
    assert Diagnostic.objects.filter(pk__in=tally.accepted, status="succeeded").count() == 7
