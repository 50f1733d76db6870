"""A surge of requests on one web process is absorbed as waiting, not answered with 503s (issue 18).

Locust's 500 clinicians on 2 cores (docs/benchmarks.md) got 503 ``couldn't get a connection``
from pages and the API, and every WebSocket handshake was dropped: Django ran every request that
arrived at once, each on its own thread, and those that waited longer than
``DATABASE_POOL_TIMEOUT`` for one of the process's ``DATABASE_POOL_MAX`` connections failed. The
Locust run (docs/benchmarks.md, "Admission") measured the finding before and after: 490 errors at
500 users before, none after. Here, on a small scale, the behaviour it relies on: one uvicorn
process with a pool of 1 connection, a 0.05-second pool timeout and one request at a time, and 80
page requests at once: every one is answered 200 after its turn, and the probe answers meanwhile.
(Without admission this small surge did not run the pool dry on this machine, so it does not
stand in for the finding; the Locust run does.)
"""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.diagnostics.sockets import session_cookie
from tests.factories import PatientFactory
from tests.processes import asgi_server

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

SURGE = 80


@pytest.fixture
def small_pool_server(process_env, tmp_path, request):
    env = {**process_env, "DATABASE_POOL_MIN": "1", "DATABASE_POOL_MAX": "1",
           "DATABASE_POOL_TIMEOUT": "0.05", "WEB_CONCURRENT_REQUESTS": request.param}  # fmt: skip
    server = asgi_server(env, tmp_path)
    yield server
    server.stop()


def surge(server, cookie: str) -> tuple[list[int], list[float]]:
    """``SURGE`` patient-list pages sent at the same moment (connections opened beforehand);
    their statuses, and how long ``/healthz`` took each time it was asked meanwhile."""
    probe_times = []
    start = threading.Barrier(SURGE)
    limits = httpx.Limits(max_connections=SURGE, max_keepalive_connections=SURGE)

    with httpx.Client(base_url=server.url, headers={"Cookie": cookie}, timeout=60,
                      limits=limits) as client:  # fmt: skip

        def page(_):
            client.get("/healthz")  # its connection, open before the surge
            start.wait()
            return client.get("/patients/")

        with ThreadPoolExecutor(max_workers=SURGE) as pool:
            pages = [pool.submit(page, i) for i in range(SURGE)]
            while not all(p.done() for p in pages):
                started = time.monotonic()
                assert httpx.get(f"{server.url}/healthz", timeout=30).status_code == 200
                probe_times.append(time.monotonic() - started)
                time.sleep(0.05)
        return [p.result().status_code for p in pages], probe_times


@pytest.mark.parametrize("small_pool_server", ["1"], indirect=True)
def test_with_admission_every_request_of_a_surge_is_answered(
    small_pool_server, client, clinician, site
):
    PatientFactory.create_batch(5, site=site)
    statuses, probe_times = surge(small_pool_server, session_cookie(client, clinician))

    print(f"[faults] surge with admission: {statuses.count(200)} of {SURGE} answered 200; "
          f"/healthz at most {max(probe_times, default=0) * 1000:.0f} ms meanwhile")  # fmt: skip
    assert statuses == [200] * SURGE
    assert probe_times and max(probe_times) < 2.0
    # They took turns: every page was admitted, and most of them waited for it.
    metrics = httpx.get(f"{small_pool_server.url}/metrics", timeout=30).text
    assert sample(metrics, "portal_http_admission_wait_seconds_count") == SURGE
    assert sample(metrics, 'portal_http_admission_wait_seconds_bucket{le="0.001"}') < SURGE / 2
    assert sample(metrics, "portal_http_requests_waiting") == 0


def sample(metrics: str, name: str) -> float:
    return next(float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines()
                if line.startswith(name + " "))  # fmt: skip
