"""A patient's page kept live the way ``static/js/live-results.js`` keeps it, over real sockets.

It listens on ``ws/patients/<id>/`` (the real Channels layer, through the test's ASGI server) and
reconnects a second after the socket closes; it reconciles with ``GET /api/v1/patients/<id>/pending/``
(an ETag poll, 304 while nothing changed) every ``RECONCILE_S`` while a result it knows of is not
final, and asks ``GET /api/v1/diagnostics/<id>/`` for one that is neither pending nor recent any
more, as the page does for a card it no longer hears about. It knows a diagnostic only from a
message or a reconciliation, never from the test. Each final status records how it came: by a
message or by the reconciliation.
"""

import json
import threading
import time

import httpx
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect as ws_connect

from diagnostics.models import Diagnostic
from tests.diagnostics.sockets import session_cookie
from tests.faults.outages import ACCEPTED, sign_in
from tests.processes import asgi_server

FINISHED = {"succeeded", "failed"}
RECONCILE_S = 1.5  # the page's AFTER_BURST_MS; it also reconciles every 5 s while anything waits
RECONNECT_S = 1.0  # the page's first reconnect delay


class LivePage:
    def __init__(self, base_url: str, patient_id: int, cookie: str, tally=None) -> None:
        self.base_url, self.patient_id, self.cookie, self.tally = (
            base_url,
            patient_id,
            cookie,
            tally,
        )
        self.lock = threading.Lock()
        self.statuses: dict[int, str] = {}
        self.came_by: dict[int, str] = {}  # how each result first reached the page
        self.messages = self.opened = self.reconciles = 0
        self.closes: list[int] = []  # close codes; 0 when no server answered
        self.refusals: list[int] = []  # HTTP statuses of refused handshakes
        self.etag: str | None = None
        self.http = httpx.Client(base_url=base_url, headers={"Cookie": cookie}, timeout=30)
        self.live = threading.Event()
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._listen, name="live-page", daemon=True)
        self.thread.start()

    def __enter__(self) -> "LivePage":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.stopped.set()
        self.thread.join(10)
        self.http.close()

    def wait_live(self, within: float = 15) -> None:
        assert self.live.wait(within), f"the page's socket did not open: closes {self.closes}"

    def _listen(self) -> None:
        url = self.base_url.replace("http://", "ws://") + f"/ws/patients/{self.patient_id}/"
        headers = {"Cookie": self.cookie, "Origin": self.base_url}
        while not self.stopped.is_set():
            try:
                with ws_connect(url, additional_headers=headers, open_timeout=10) as socket:
                    self.opened += 1
                    self.live.set()
                    while not self.stopped.is_set():
                        try:
                            self._message(json.loads(socket.recv(timeout=0.2)))
                        except TimeoutError:
                            continue
            except ConnectionClosed as closed:
                self.closes.append(closed.rcvd.code if closed.rcvd else 1006)
            except InvalidStatus as refused:
                self.refusals.append(refused.response.status_code)
            except OSError:
                self.closes.append(0)  # no server to connect to
            finally:
                self.live.clear()
            self.stopped.wait(RECONNECT_S)

    def _message(self, message: dict) -> None:
        if message.get("type") == "diagnostic":
            with self.lock:
                self.messages += 1
            self._apply(message["id"], message["status"], "message")

    def _apply(self, diagnostic_id: int, status: str, how: str) -> None:
        with self.lock:
            self.statuses[diagnostic_id] = status
            if status in FINISHED:
                self.came_by.setdefault(diagnostic_id, how)

    def _get(self, what: str, path: str, **headers) -> httpx.Response:
        response = self.http.get(path, headers=headers)
        if self.tally is not None and response.status_code != 304:
            self.tally.record(what, response)
        return response

    def reconcile(self) -> None:
        """One pass of the page's reconciliation, as ``LiveTimeline.reconcile`` does it."""
        self.reconciles += 1
        headers = {"If-None-Match": self.etag} if self.etag else {}
        response = self._get("pending", f"/api/v1/patients/{self.patient_id}/pending/", **headers)
        if response.status_code != 200:
            return
        body = response.json()
        known = {item["id"]: item["status"] for item in [*body["recent"], *body["pending"]]}
        for diagnostic_id, status in known.items():
            if self.statuses.get(diagnostic_id) != status:
                self._apply(diagnostic_id, status, "reconcile")
        with self.lock:
            unfinished = [i for i, status in self.statuses.items() if status not in FINISHED]
        for diagnostic_id in unfinished:
            if diagnostic_id not in known:  # neither pending nor recent: it has finished
                detail = self._get("detail", f"/api/v1/diagnostics/{diagnostic_id}/")
                if detail.status_code == 200:
                    self._apply(diagnostic_id, detail.json()["status"], "reconcile")
        self.etag = response.headers.get("ETag")

    def unfinished(self, ids) -> list[int]:
        with self.lock:
            return [i for i in ids if self.statuses.get(i) not in FINISHED]

    def wait_until_final(self, ids, *, within: float) -> float:
        """Reconcile as the page does until it shows every one of ``ids`` final; the seconds."""
        started = time.monotonic()
        while missing := self.unfinished(ids):
            if time.monotonic() - started > within:
                raise AssertionError(
                    f"{len(missing)} of {len(ids)} results not on the page within {within} s "
                    f"(e.g. {missing[:5]}); socket closes: {self.closes}"
                )
            time.sleep(RECONCILE_S)
            self.reconcile()
        return time.monotonic() - started

    def figures(self, ids) -> dict[str, int]:
        with self.lock:
            ways = [self.came_by.get(i) for i in ids]
        return {
            "on_page": len(ids) - len(self.unfinished(ids)),
            "by_message": ways.count("message"),
            "by_reconcile": ways.count("reconcile"),
            "socket_opens": self.opened,
            "socket_refusals": len(self.refusals),
        }

    def assert_shows(self, ids) -> None:
        missing = self.unfinished(ids)
        assert not missing, f"results that never reached the open page: {missing[:20]}"
        failed = [status for status in self.refusals if status >= 500 and status != 503]
        assert not failed, f"the socket's handshake failed with {failed}"


class Clinic:
    """A web server of the test's own, a clinician's API client signed in on it, and the
    patient's page open on it: where a fault test's uploads come from and its results go to."""

    def __init__(self, env: dict, log_dir, *, client, clinician, patient, tally) -> None:
        self.patient, self.tally = patient, tally
        self.server = asgi_server(env, log_dir)
        self.page = self.http = None
        try:
            cookie = session_cookie(client, clinician)
            self.page = LivePage(self.server.url, patient.pk, cookie, tally)
            self.http = httpx.Client(base_url=self.server.url, timeout=60)
            self.token = sign_in(self.http, clinician, tally)
            self.page.wait_live()
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> "Clinic":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def upload(self, seed: int, what: str = "upload", **clip) -> Diagnostic:
        """Upload a distinct cough; its diagnostic, which the upload must have been accepted for."""
        response = self.tally.upload(what, self.http, self.token, self.patient, seed, **clip)
        assert response.status_code in ACCEPTED, response.text
        return Diagnostic.objects.get(pk=response.json()["diagnostic"]["id"])

    def close(self) -> None:
        if self.page is not None:
            self.page.close()
        if self.http is not None:
            self.http.close()
        self.server.stop()
