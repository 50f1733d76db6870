"""A tiny TCP load balancer on loopback, for tests that restart web processes behind one.

It does what the tests assume of a production balancer (ingress-nginx, a cloud balancer) and no
more: each new client connection goes to the next backend in turn among those whose ``/readyz``
last answered 200 (probed every ``probe_s``); a backend that refuses the connection is skipped
for the next one (nginx's ``proxy_next_upstream error``), and when none is ready every backend is
tried. A connection, once made, stays with its backend until one side closes it: a WebSocket or a
request in flight is the backend's to finish. Bytes are relayed as they are (HTTP and WebSockets
alike), so the backends see the balancer as their client.
"""

import contextlib
import itertools
import socket
import threading
import time
import urllib.error
import urllib.request
from collections import Counter


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
        for target in (self._probe_forever, self._accept_forever):
            threading.Thread(target=target, daemon=True).start()

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

    def _probe_forever(self) -> None:
        while not self.stopped.is_set():
            for backend in self.backends:
                self.ready[backend] = _answers_ready(backend, timeout=max(1.0, self.probe_s * 5))
            self.stopped.wait(self.probe_s)

    def _order(self) -> list[tuple[str, int]]:
        """Ready backends in turn, then the others as a last resort."""
        with self.lock:
            start = next(self.turn)
        rotated = [
            self.backends[(start + i) % len(self.backends)] for i in range(len(self.backends))
        ]
        return [b for b in rotated if self.ready[b]] + [b for b in rotated if not self.ready[b]]

    def _accept_forever(self) -> None:
        while not self.stopped.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._relay, args=(client,), daemon=True).start()

    def _relay(self, client: socket.socket) -> None:
        for backend in self._order():
            try:
                upstream = socket.create_connection(backend, timeout=5)
            except OSError:
                self._count("connect refused, next backend")
                continue
            upstream.settimeout(None)
            self._count(f"to :{backend[1]}")
            upward = threading.Thread(target=_pump, args=(client, upstream), daemon=True)
            upward.start()
            _pump(upstream, client)
            upward.join()
            for sock in (client, upstream):
                sock.close()
            return
        self._count("no backend")
        client.close()

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
