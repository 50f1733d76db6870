"""Admission: at most ``WEB_CONCURRENT_REQUESTS`` HTTP requests of a web process run at once; the
others wait their turn, first come first served.

Django's ASGI handler runs each request's code on a thread of its own, as many as arrive. Under a
surge (issue 18's 500 clinicians on 2 cores) every request started at once and each took one of
the process's pooled database connections (``DATABASE_POOL_MAX``) while the interpreter went
round all of them: the requests that waited ``DATABASE_POOL_TIMEOUT`` for a connection were
answered 503, and the WebSocket handshakes, whose database work shares one thread per process,
found no connection free and outlasted the server's 10-second opening limit. Waiting here instead
costs nothing (a coroutine, not a thread or a connection), the requests that run finish in their
usual time, and a surge becomes waiting rather than errors; the connections left over stay free for
the sockets.

The probes (``/healthz``, ``/readyz``) and ``/metrics`` do not wait: a busy process is alive and
ready, and must not be restarted or taken out of the load balancer for being busy.
"""

import asyncio
import time

from prometheus_client import Gauge, Histogram

WAITING = Gauge("portal_http_requests_waiting", "HTTP requests waiting for their turn to run")
WAIT_SECONDS = Histogram(
    "portal_http_admission_wait_seconds",
    "How long HTTP requests waited for their turn to run",
    buckets=(0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
NEVER_WAIT = ("/healthz", "/readyz", "/metrics")


class AdmissionLimit:
    """ASGI middleware (HTTP); ``limit`` 0 or less turns it off."""

    def __init__(self, app, *, limit: int) -> None:
        self.app = app
        self.limit = limit
        self._turns: tuple[asyncio.AbstractEventLoop, asyncio.Semaphore] | None = None

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or self.limit <= 0 or scope["path"].startswith(NEVER_WAIT):
            return await self.app(scope, receive, send)
        turns = self._turns_here()
        started = time.perf_counter()
        WAITING.inc()
        try:
            await turns.acquire()
        finally:
            WAITING.dec()
        WAIT_SECONDS.observe(time.perf_counter() - started)
        try:
            return await self.app(scope, receive, send)
        finally:
            turns.release()

    def _turns_here(self) -> asyncio.Semaphore:
        """The semaphore of the running event loop (a server runs one; tests may run several)."""
        loop = asyncio.get_running_loop()
        if self._turns is None or self._turns[0] is not loop:
            self._turns = (loop, asyncio.Semaphore(self.limit))
        return self._turns[1]
