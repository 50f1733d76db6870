"""A tiny TCP load balancer on loopback, for tests that restart web processes behind one.

It behaves as a cloud load balancer that follows its health checks: each new client connection
goes to the next backend in turn among those whose ``/readyz`` last answered 200 (each backend is
probed every ``probe_s``, a probe waiting up to ``PROBE_TIMEOUT_S`` for its answer), and nowhere
when none is ready. It never retries a connection elsewhere: a backend that stops listening
before the balancer has seen it leave refuses the connections sent to it meanwhile, and their
clients see the failure. A connection, once made, stays with its backend until one side closes
it: a WebSocket or a request in flight is the backend's to finish. Bytes are relayed as they are
(HTTP and WebSockets alike), so the backends see the balancer as their client.
"""

import contextlib
import itertools
import socket
import threading
import time
import urllib.error
import urllib.request
from collections import Counter

PROBE_TIMEOUT_S = 5.0


class Balancer:
    def __init__(self, backends: list[tuple[str, int]], *, probe_s: float = 0.2) -> None:
        self.backends = list(backends)
        self.ready = dict.fromkeys(self.backends, False)
        self.probe_s = probe_s
        self.counts: Counter[str] = Counter()
        self.stopped = threading.Event()
        self.turn = itertools.count()
        self.lock = threading.Lock()
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(256)
        self.port = self.listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        for backend in self.backends:
            threading.Thread(target=self._probe_forever, args=(backend,), daemon=True).start()
        threading.Thread(target=self._accept_forever, daemon=True).start()

    def close(self) -> None:
        self.stopped.set()
        with contextlib.suppress(OSError):
            self.listener.close()

    def wait_ready(self, backend: tuple[str, int], *, ready: bool, within: float) -> None:
        """Until the balancer's probes see ``backend`` as ready (or not)."""
        deadline = time.monotonic() + within
        while self.ready[backend] != ready:
            if time.monotonic() > deadline:
                raise AssertionError(f"{backend} not seen {'ready' if ready else 'out'} in time")
            time.sleep(0.05)

    def _probe_forever(self, backend: tuple[str, int]) -> None:
        while not self.stopped.is_set():
            self.ready[backend] = _answers_ready(backend, timeout=PROBE_TIMEOUT_S)
            self.stopped.wait(self.probe_s)

    def _next_ready(self) -> tuple[str, int] | None:
        ready = [backend for backend in self.backends if self.ready[backend]]
        if not ready:
            return None
        with self.lock:
            return ready[next(self.turn) % len(ready)]

    def _accept_forever(self) -> None:
        while not self.stopped.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._relay, args=(client,), daemon=True).start()

    def _relay(self, client: socket.socket) -> None:
        backend = self._next_ready()
        try:
            if backend is None:
                raise ConnectionRefusedError("no backend is ready")
            upstream = socket.create_connection(backend, timeout=5)
        except OSError:
            self._count("refused: no backend" if backend is None else f"refused by :{backend[1]}")
            client.close()
            return
        upstream.settimeout(None)
        self._count(f"to :{backend[1]}")
        upward = threading.Thread(target=_pump, args=(client, upstream), daemon=True)
        upward.start()
        _pump(upstream, client)
        upward.join()
        for sock in (client, upstream):
            sock.close()

    def _count(self, what: str) -> None:
        with self.lock:
            self.counts[what] += 1


def _answers_ready(backend: tuple[str, int], *, timeout: float) -> bool:
    try:
        with urllib.request.urlopen(
            f"http://{backend[0]}:{backend[1]}/readyz", timeout=timeout
        ) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _pump(source: socket.socket, sink: socket.socket) -> None:
    """Copy one direction; at its end, pass the half-close on (as a proxy does)."""
    with contextlib.suppress(OSError):
        while data := source.recv(65536):
            sink.sendall(data)
    with contextlib.suppress(OSError):
        sink.shutdown(socket.SHUT_WR)
    with contextlib.suppress(OSError):
        source.shutdown(socket.SHUT_RD)
