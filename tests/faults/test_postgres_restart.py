"""PostgreSQL restarts under a running web server and worker (issue 18.4: in the second after a
restart the pool handed out dead connections and 5 uploads got 500; tasks that failed on that
error were not retried).

The processes reach PostgreSQL through a relay the test cuts (every connection dropped, new ones
refused) and restores, which is what a restart looks like from the pool. Right after the restart
every request is answered from a live connection; while the database is away the API answers 503
``database_unavailable`` with a JSON body and a page answers a friendly 503, never a 500, and only
the first of them waits for the pool's timeout (the database's circuit breaker); a task
that failed on the lost connection is retried and succeeds once the database is back, and every
accepted upload ends with exactly one result.
"""

import time
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
from django.conf import settings

from diagnostics.models import Diagnostic
from portal.celery import app
from tests.diagnostics.inference_steps import all_finished, inference_worker, wait_for
from tests.diagnostics.sockets import session_cookie
from tests.factories import PatientFactory
from tests.faults.live_page import LivePage
from tests.faults.outages import Link, Tally, sign_in
from tests.processes import asgi_server, celery_worker

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

SWEEP = "diagnostics.tasks.sweep_stuck_diagnostics"
POOL_TIMEOUT_S = 3.0
COOLDOWN_S = 5.0  # the database breaker's default (portal.core.database)


def through(link: Link, database_url: str) -> str:
    parts = urlsplit(database_url)
    netloc = parts.netloc.rsplit("@", 1)[0] + f"@127.0.0.1:{link.port}"
    return urlunsplit(parts._replace(netloc=netloc))


def sweeps_succeeded(worker) -> int:
    return worker.output().count(f"Task {SWEEP}[") - worker.output().count("retry:")


@pytest.mark.skipif(settings.DATABASE_VENDOR != "postgresql", reason="a PostgreSQL restart")
def test_after_a_postgres_restart_no_request_gets_a_dead_connection_and_tasks_retry(
    client, clinician, site, production_model, worker_env, tmp_path, request
):
    # A short pool timeout bounds the requests made while the database is away; below ~3 s, new
    # connections on a loaded machine can outlast it right after the restart too.
    link = Link.to_database()
    env = {**worker_env, "DATABASE_URL": through(link, worker_env["DATABASE_URL"]),
           "DATABASE_POOL_MIN": "4", "DATABASE_POOL_TIMEOUT": str(POOL_TIMEOUT_S),
           "DATABASE_BREAKER_COOLDOWN_S": str(COOLDOWN_S)}  # fmt: skip
    patient = PatientFactory(site=site)
    cookie = session_cookie(client, clinician)
    tally = Tally("postgres restart")
    processes, page, live = [], None, None

    try:
        server = asgi_server(env, tmp_path)
        worker = celery_worker(env, tmp_path, queues="maintenance")
        inference = inference_worker(env, tmp_path)
        processes += [server, worker, inference]
        live = LivePage(server.url, patient.pk, cookie, tally)  # open throughout
        live.wait_live()
        http = httpx.Client(base_url=server.url, timeout=30)
        token = sign_in(http, clinician, tally)
        auth = {"Authorization": f"Bearer {token}"}
        for seed in range(3):  # the pool holds connections now
            tally.record("list", http.get("/api/v1/diagnostics/", headers=auth))
            tally.upload("upload", http, token, patient, seed)

        link.cut()  # the restart: every pooled connection is dead
        link.restore()
        for seed in range(10, 15):
            tally.record("list after", http.get("/api/v1/diagnostics/", headers=auth))
            tally.upload("upload after", http, token, patient, seed)

        link.cut()  # the database is away
        down_started = time.monotonic()
        for seed in range(20, 23):
            tally.record("list down", http.get("/api/v1/diagnostics/", headers=auth))
            tally.upload("upload down", http, token, patient, seed)
        page = http.get("/", headers={"Cookie": cookie})
        down_s = time.monotonic() - down_started
        app.send_task(SWEEP)
        wait_for(lambda: "retry:" in worker.output(), within=30, what="the task retried",
                 logs=[worker])  # fmt: skip
        time.sleep(1)
        link.restore()
        wait_for(lambda: " succeeded in " in worker.output(), within=60,
                 what="the retried task succeeded", logs=[worker])  # fmt: skip
        wait_for(all_finished(*Diagnostic.objects.filter(pk__in=tally.accepted)), within=120,
                 what="every accepted upload finished", logs=[inference])  # fmt: skip
        live.wait_until_final(tally.accepted, within=30)
    finally:
        if live is not None:
            live.close()
        for process in reversed(processes):
            process.stop()
        link.close()

    tally.finish(request, workers=[inference], page=live, page_down=page and page.status_code,
                 down_answered_in_s=round(down_s, 1))  # fmt: skip
    assert tally.counts["list after 200"] == 5 and tally.counts["upload after 201"] == 5
    assert tally.counts["list down 503"] == 3 and tally.counts["upload down 503"] == 3
    assert page.status_code == 503 and "text/html" in page.headers["content-type"]
    assert "try again" in page.text.lower()
    # The seven requests made while the database was away (a page alone touches it four times):
    # the web process waited for its pool at most twice (the first time, and a probe after the
    # breaker's cool-down); without the breaker each waited, 12 s for the page alone.
    assert down_s < 2 * POOL_TIMEOUT_S + COOLDOWN_S, down_s
    assert len(tally.accepted) == 8
    assert Diagnostic.objects.filter(pk__in=tally.accepted, status="succeeded").count() == 8
