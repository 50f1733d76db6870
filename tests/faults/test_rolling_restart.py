"""A rolling restart under load loses nothing (issue 19).

Two web processes behind a load balancer (``tests.faults.balancer``: round robin over the backends
whose ``/readyz`` answered 200 at its last probe, every 0.2 s, and no retry elsewhere when a
backend refuses a connection, as a cloud load balancer that follows its health checks), one
inference worker, and steady traffic through the balancer: uploads, API and page GETs
(a new connection each, so the balancer chooses every time), and one WebSocket per patient that
behaves as ``static/js/live-results.js`` does (on close it reconnects, after a moment when the
code is 1012, and on every open it re-fetches the patient's pending results). Web process A is
restarted (SIGTERM to its main process, as Kubernetes sends it; wait for it to exit; start it
again), then B, then the inference worker.

No client request may fail: any 5xx, 4xx or connection error counts (the only client that retries
is the page's socket, which is documented to reconnect). Every accepted upload ends with exactly one
result, and every result reaches its patient's socket, live or by the re-fetch on reconnecting.
The counts are printed in the test log (``[faults] rolling restart: …``).
"""

import itertools
import json
import signal
import sys
import threading
import time
from collections import Counter

import httpx
import pytest
from websockets.exceptions import ConnectionClosed, InvalidHandshake
from websockets.sync.client import connect as ws_connect

from diagnostics.models import Diagnostic, DiagnosticStatus
from media_assets.models import Recording
from tests.diagnostics.inference_steps import all_finished, inference_worker, log_events, wait_for
from tests.diagnostics.sockets import session_cookie
from tests.factories import PatientFactory
from tests.faults.balancer import Balancer
from tests.faults.outages import PASSWORD, upload
from tests.faults.storage_faults import summary
from tests.processes import LiveProcess, free_port, http_status

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300), pytest.mark.django_db(transaction=True)]

PATIENTS = 3
DRAIN_DELAY_S = 2.0  # ten of the balancer's probes, on a busy machine
FINISHED = ("succeeded", "failed")
SERVICE_RESTART = 1012


def web_process(env: dict, log_dir, port: int, name: str) -> LiveProcess:
    """A web process as deployed (graceful timeout included), not yet started."""
    server = LiveProcess(
        name,
        [sys.executable, "-m", "uvicorn", "portal.asgi:application", "--host", "127.0.0.1",
         "--port", str(port), "--no-access-log", "--lifespan", "off",
         "--timeout-graceful-shutdown", "10"],
        log_dir=log_dir, env=env,
    )  # fmt: skip
    server.url = f"http://127.0.0.1:{port}"
    return server


def start(server: LiveProcess) -> LiveProcess:
    return server.start(ready=lambda: http_status(f"{server.url}/healthz", 1) == 200)


class Traffic:
    """Every client request of the test, counted by what it was and how it was answered."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.failed: list[str] = []
        self.accepted: list[tuple[int, int]] = []  # (patient, diagnostic)
        self.lock = threading.Lock()
        self.stop_uploads = threading.Event()
        self.stop = threading.Event()

    def request(self, what: str, call, *args, ok=(200,), **kwargs):
        try:
            response = call(*args, **kwargs)
        except httpx.HTTPError as exc:
            self._note(f"{what} {type(exc).__name__}", failed=f"{what}: {exc!r}")
            return None
        good = response.status_code in ok
        self._note(f"{what} {response.status_code}",
                   failed=None if good else f"{what}: {response.status_code} {response.text[:200]}")  # fmt: skip
        return response if good else None

    def _note(self, key: str, failed: str | None) -> None:
        with self.lock:
            self.counts[key] += 1
            if failed:
                self.failed.append(failed)


def http_client(base_url: str) -> httpx.Client:
    """A client that opens a new connection for every request, as many browsers' do through a
    balancer that closes idle ones: each request is routed anew."""
    return httpx.Client(
        base_url=base_url, timeout=30, limits=httpx.Limits(max_keepalive_connections=0)
    )


def keep_uploading(traffic: Traffic, base_url: str, token: str, patients, first_seed: int):
    with http_client(base_url) as http:
        for number in itertools.count():
            if traffic.stop_uploads.is_set():
                return
            patient = patients[number % len(patients)]
            response = traffic.request(
                "upload", upload, http, token, patient, first_seed + number, ok=(201, 202)
            )
            if response is not None:
                with traffic.lock:
                    traffic.accepted.append((patient.pk, response.json()["diagnostic"]["id"]))
            time.sleep(0.2)


def keep_reading(traffic: Traffic, base_url: str, token: str, cookie: str, patients):
    auth = {"Authorization": f"Bearer {token}"}
    with http_client(base_url) as http:
        for number in itertools.count():
            if traffic.stop.is_set():
                return
            patient = patients[number % len(patients)]
            traffic.request("list", http.get, "/api/v1/diagnostics/?page_size=5", headers=auth)
            traffic.request(
                "page", http.get, f"/patients/{patient.pk}/", headers={"Cookie": cookie}
            )
            time.sleep(0.1)


class Watcher:
    """One patient's page, as far as live results go: its socket and its re-fetch."""

    def __init__(self, traffic: Traffic, base_url: str, cookie: str, token: str, patient_id: int):
        self.traffic, self.base_url, self.cookie = traffic, base_url, cookie
        self.auth = {"Authorization": f"Bearer {token}"}
        self.patient_id = patient_id
        self.status: dict[int, str] = {}
        self.finished_by: dict[int, str] = {}  # how the final status arrived: socket or re-fetch
        self.closes: Counter[str] = Counter()
        self.opened = 0

    def note(self, diagnostic_id: int, status: str, by: str) -> None:
        self.status[diagnostic_id] = status
        if status in FINISHED:
            self.finished_by.setdefault(diagnostic_id, by)

    def run(self) -> None:
        url = f"{self.base_url.replace('http://', 'ws://')}/ws/patients/{self.patient_id}/"
        headers = {"Cookie": self.cookie, "Origin": self.base_url}
        backoff = 1.0
        while not self.traffic.stop.is_set():
            code = None
            try:
                with ws_connect(url, additional_headers=headers, open_timeout=10) as socket_:
                    self.opened += 1
                    backoff = 1.0
                    self.refetch()
                    while not self.traffic.stop.is_set():
                        try:
                            message = json.loads(socket_.recv(timeout=0.3))
                        except TimeoutError:
                            continue
                        if message.get("type") == "diagnostic":
                            self.note(message["id"], message["status"], "socket")
            except ConnectionClosed as closed:
                code = closed.rcvd.code if closed.rcvd else 1006
                self.closes[str(code)] += 1
            except (InvalidHandshake, OSError, TimeoutError) as exc:
                self.closes[type(exc).__name__] += 1
            # As the page: soon after a restart's 1012, with a doubling back-off otherwise.
            delay = 0.25 if code == SERVICE_RESTART else backoff
            backoff = 1.0 if code == SERVICE_RESTART else min(backoff * 2, 30)
            self.traffic.stop.wait(delay)

    def refetch(self) -> None:
        """What the page does when its socket opens: the pending list, then each card it still
        shows unfinished that the list no longer names."""
        with http_client(self.base_url) as http:
            response = self.traffic.request(
                "pending", http.get, f"/api/v1/patients/{self.patient_id}/pending/", headers=self.auth
            )  # fmt: skip
            if response is None:
                return
            body = response.json()
            listed = {item["id"]: item["status"] for item in body["recent"] + body["pending"]}
            for diagnostic_id, status in listed.items():
                self.note(diagnostic_id, status, "re-fetch")
            for diagnostic_id, status in list(self.status.items()):
                if status not in FINISHED and diagnostic_id not in listed:
                    one = self.traffic.request(
                        "diagnostic", http.get, f"/api/v1/diagnostics/{diagnostic_id}/", headers=self.auth
                    )  # fmt: skip
                    if one is not None:
                        self.note(diagnostic_id, one.json()["status"], "re-fetch")


def restart_web(old: LiveProcess, balancer: Balancer, env, log_dir, name: str) -> LiveProcess:
    backend = ("127.0.0.1", int(old.url.rsplit(":", 1)[1]))
    old.proc.send_signal(signal.SIGTERM)
    balancer.wait_ready(backend, ready=False, within=DRAIN_DELAY_S)  # readiness 503 at once
    old.proc.wait(timeout=30)
    new = start(web_process(env, log_dir, backend[1], name))
    balancer.wait_ready(backend, ready=True, within=10)
    time.sleep(1.5)  # both serve again for a while
    return new


@pytest.mark.usefixtures("production_model")
def test_a_rolling_restart_of_web_and_inference_under_load_fails_and_loses_nothing(
    worker_env, tmp_path, client, clinician, site, request
):
    patients = [PatientFactory(site=site) for _ in range(PATIENTS)]
    cookie = session_cookie(client, clinician)
    env = {**worker_env, "WEB_DRAIN_DELAY_S": str(DRAIN_DELAY_S), "API_THROTTLE_USER": "100000/min",
           "UPLOAD_QUOTA_USER_PER_HOUR": "0", "UPLOAD_QUOTA_SITE_PER_HOUR": "0"}  # fmt: skip
    web = {name: web_process(env, tmp_path, free_port(), f"web-{name}") for name in "ab"}
    balancer = Balancer([("127.0.0.1", int(w.url.rsplit(":", 1)[1])) for w in web.values()])
    traffic, processes, watchers, uploaders, others = Traffic(), [], [], [], []
    began, phases = time.monotonic(), {}

    def phase(name: str) -> None:
        phases[name] = round(time.monotonic() - began, 1)

    try:
        starting = [threading.Thread(target=start, args=(w,)) for w in web.values()]
        for thread in starting:
            thread.start()
        inference = inference_worker(env, tmp_path, name="inference-1")
        processes.append(inference)
        for thread in starting:
            thread.join()
        processes += web.values()
        for backend in balancer.backends:
            balancer.wait_ready(backend, ready=True, within=30)
        token = httpx.post(f"{balancer.url}/api/v1/auth/token/", timeout=30,
                           json={"username": clinician.username, "password": PASSWORD}).json()["access"]  # fmt: skip

        watchers = [Watcher(traffic, balancer.url, cookie, token, p.pk) for p in patients]
        others = [threading.Thread(target=w.run) for w in watchers]
        others.append(threading.Thread(target=keep_reading, args=(traffic, balancer.url, token, cookie, patients)))  # fmt: skip
        uploaders = [
            threading.Thread(target=keep_uploading, args=(traffic, balancer.url, token, patients, seed))
            for seed in (1000, 5000)
        ]  # fmt: skip
        for thread in others + uploaders:
            thread.start()
        wait_for(lambda: all(w.opened for w in watchers), within=20, what="every socket open")
        phase("started")
        time.sleep(2)

        for name in "ab":
            web[name] = restart_web(web[name], balancer, env, tmp_path, f"web-{name}-2")
            processes.append(web[name])
            phase(f"web {name} restarted")
        inference.proc.send_signal(signal.SIGTERM)  # warm shutdown: the batch in hand, no more
        inference.proc.wait(timeout=60)
        inference = inference_worker(env, tmp_path, name="inference-2")
        processes.append(inference)
        phase("inference restarted")
        time.sleep(2)

        traffic.stop_uploads.set()
        for thread in uploaders:
            thread.join(60)
        accepted = [d for _, d in traffic.accepted]
        wait_for(all_finished(*Diagnostic.objects.filter(pk__in=accepted)), within=120,
                 what="every accepted upload analysed", logs=[inference])  # fmt: skip
        phase("all analysed")

        def all_delivered():
            return all(
                d in w.finished_by
                for w in watchers
                for p, d in traffic.accepted
                if p == w.patient_id
            )

        wait_for(all_delivered, within=30, what="every result on its patient's socket")
    finally:
        traffic.stop_uploads.set()
        traffic.stop.set()
        for thread in uploaders + others:
            thread.join(30)
        for process in reversed(processes):
            process.stop()
        balancer.close()

    accepted = [d for _, d in traffic.accepted]
    analysed = Counter(
        e["diagnostic"] for e in log_events(*processes, message="diagnostic analysed")
    )
    diagnostics = Diagnostic.objects.filter(patient__in=patients)
    by = Counter(w.finished_by.get(d) for w in watchers for p, d in traffic.accepted if p == w.patient_id)  # fmt: skip
    closes = sum((w.closes for w in watchers), Counter())
    summary(
        request, "rolling restart", failed_requests=len(traffic.failed),
        uploads_accepted=len(accepted),
        results=diagnostics.filter(status=DiagnosticStatus.SUCCEEDED).count(),
        lost_uploads=len(set(accepted) - set(analysed)), delivered_by_socket=by["socket"],
        delivered_by_refetch_on_reconnect=by["re-fetch"], undelivered=by[None],
        socket_closes=dict(closes), socket_opens=sum(w.opened for w in watchers),
        requests=dict(sorted(traffic.counts.items())), balancer=dict(balancer.counts),
        phases_s=phases,
    )  # fmt: skip

    assert traffic.failed == []
    assert len(accepted) >= 20 and len(set(accepted)) == len(accepted)
    # Every accepted upload has one recording, one diagnostic and exactly one result.
    assert Recording.objects.filter(patient__in=patients).count() == len(accepted)
    assert sorted(diagnostics.values_list("pk", flat=True)) == sorted(accepted)
    assert diagnostics.exclude(status=DiagnosticStatus.SUCCEEDED).count() == 0
    assert {analysed[d] for d in accepted} == {1}
    # Every result reached its patient's page, and every socket a restart closed was told why.
    assert by[None] == 0
    assert closes[str(SERVICE_RESTART)] >= 2 and set(closes) == {str(SERVICE_RESTART)}
