"""A patient's page kept live the way ``static/js/live-results.js`` keeps it, over real sockets.

It listens on ``ws/patients/<id>/`` (the real Channels layer, through the test's ASGI server) and
reconnects a second after the socket closes; it reconciles with ``GET /api/v1/patients/<id>/pending/``
(an ETag poll, 304 while nothing changed) on the page's triggers (the socket opening, a burst of
messages gone quiet, every few seconds while a result it shows is unfinished), and asks
``GET /api/v1/diagnostics/<id>/`` for one that is neither pending nor recent any more, as the page
does for a card it no longer hears about. It knows a diagnostic only from a
message or a reconciliation, never from the test. Each final status records how it came: by a
message or by the reconciliation.
"""

import contextlib
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
AFTER_BURST_S = 1.5  # the page's AFTER_BURST_MS: quiet time after messages before reconciling
RECONCILE_S = 5.0  # the page's RECONCILE_MS: while anything on it is queued or running
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
        self.last_message = self.last_reconcile = 0.0
        self.threads = [
            threading.Thread(target=self._listen, name="live-page", daemon=True),
            threading.Thread(target=self._reconciler, name="live-page-poll", daemon=True),
        ]
        for thread in self.threads:
            thread.start()

    def __enter__(self) -> "LivePage":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.stopped.set()
        for thread in self.threads:
            thread.join(10)
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
                    self.reconcile_soon()  # what changed while the socket was down
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

    def reconcile_soon(self) -> None:
        self.last_reconcile = 0.0

    def _reconciler(self) -> None:
        """The page's triggers: after a burst of messages has gone quiet, every few seconds while
        anything it shows is unfinished, and when the socket (re)opens."""
        while not self.stopped.wait(0.1):
            now = time.monotonic()
            with self.lock:
                waiting = any(status not in FINISHED for status in self.statuses.values())
                burst_over = self.last_reconcile < self.last_message < now - AFTER_BURST_S
            if (
                burst_over
                or (waiting and now - self.last_reconcile > RECONCILE_S)
                or (not self.last_reconcile)
            ):
                self.last_reconcile = now
                with contextlib.suppress(httpx.HTTPError):  # offline: the next trigger tries again
                    self.reconcile()

    def _message(self, message: dict) -> None:
        if message.get("type") == "diagnostic":
            with self.lock:
                self.messages += 1
                self.last_message = time.monotonic()
            self._apply(message["id"], message["status"], "message")

    def _apply(self, diagnostic_id: int, status: str, how: str) -> None:
        with self.lock:
            if self.statuses.get(diagnostic_id) in FINISHED and status not in FINISHED:
                # A message that lagged behind the result (a busy socket): the page fetches the
                # card again on such a change and shows the server's, which is the result.
                return
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

    def wait_until_final(self, ids, *, within: float) -> float | None:
        """Wait, as a clinician looking at the page would, until it shows every one of ``ids``
        final; the seconds it took, or None (``assert_shows`` then says which are missing)."""
        started = time.monotonic()
        while self.unfinished(ids):
            if time.monotonic() - started > within:
                return None
            time.sleep(0.2)
        return time.monotonic() - started

    def figures(self, ids) -> dict[str, int]:
        with self.lock:
            ways = [self.came_by.get(i) for i in ids]
        return {
            "on_page": len(ids) - len(self.unfinished(ids)),
            "never_heard_of": sum(1 for i in ids if i not in self.statuses),
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

    def __init__(
        self, env: dict, log_dir, *, client, clinician, patient, tally, web_processes: int = 1
    ) -> None:
        self.patient, self.tally = patient, tally
        self.server = asgi_server(env, log_dir, workers=web_processes)
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

    def upload(self, seed: int, *, what: str = "upload", http=None, **clip) -> httpx.Response:
        """Upload a distinct cough (by ``seed``) for the patient, tallied; ``http``: a client of
        the caller's thread (one client each where several threads upload)."""
        return self.tally.upload(what, http or self.http, self.token, self.patient, seed, **clip)

    def submit(self, seed: int, **clip) -> Diagnostic:
        """``upload``, which must be accepted; its diagnostic."""
        response = self.upload(seed, **clip)
        assert response.status_code in ACCEPTED, response.text
        return Diagnostic.objects.get(pk=response.json()["diagnostic"]["id"])

    def close(self) -> None:
        if self.page is not None:
            self.page.close()
        if self.http is not None:
            self.http.close()
        self.server.stop()
