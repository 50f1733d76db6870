"""Draining a web process that is told to stop (SIGTERM: a rolling restart, a scale-down).

uvicorn on its own stops listening the moment SIGTERM arrives, while a load balancer may still send
new connections here for a few seconds: those would be refused or reset. So the first SIGTERM
only starts draining:

1. ``/readyz`` answers 503 ``draining`` at once, so a load balancer that probes it stops sending
   new requests, and every response from then on says ``Connection: close``, so clients that keep
   connections open come back through the load balancer (to another process) for their next
   request;
2. after ``WEB_DRAIN_DELAY_S`` (0 by default: a process nobody balances stops at once) the signal
   reaches uvicorn, which stops listening, closes open WebSockets with code 1012 ("service
   restart", which the page answers by reconnecting and re-fetching what it may have missed) and
   finishes the requests in flight within its ``--timeout-graceful-shutdown``.

A second SIGTERM during the delay stops the process at once, and SIGINT (Ctrl-C) is uvicorn's own.
docs/deploy.md ("Rolling restarts") says how the delay, the graceful timeout and Kubernetes'
``terminationGracePeriodSeconds`` fit together.
"""

import logging
import signal
import threading
import time

import uvicorn

logger = logging.getLogger(__name__)

_draining = threading.Event()


def draining() -> bool:
    """Whether this process has been told to stop and is finishing its work."""
    return _draining.is_set()


def drain_on_sigterm(delay_s: float) -> None:
    """Put draining in front of uvicorn's own SIGTERM handler.

    Called when ``portal.asgi`` is imported, which uvicorn does after installing its handlers.
    Only uvicorn's handler is wrapped: it just marks the server as exiting, so it may be called
    later from another thread. Under anything else (a test importing the application, another
    server) nothing changes.
    """
    if threading.current_thread() is not threading.main_thread():
        return
    server_handler = signal.getsignal(signal.SIGTERM)
    if not isinstance(getattr(server_handler, "__self__", None), uvicorn.Server):
        return

    def on_sigterm(signum, frame):
        first = not _draining.is_set()
        _draining.set()
        if first and delay_s > 0:
            # Logging and waiting happen on a thread of their own, not in the signal handler.
            threading.Thread(
                target=_stop_after, args=(delay_s, server_handler, signum, frame), daemon=True
            ).start()
        else:  # no delay, or told twice: stop now
            server_handler(signum, frame)

    signal.signal(signal.SIGTERM, on_sigterm)


def _stop_after(delay_s: float, server_handler, signum, frame) -> None:
    logger.warning("draining: not ready, stopping", extra={"drain_delay_s": delay_s})
    time.sleep(delay_s)
    server_handler(signum, frame)


class CloseConnectionsWhileDraining:
    """ASGI middleware (HTTP): while draining, each response closes its connection, so a client's
    next request goes through the load balancer again instead of to this process."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_closing(message):
            if message["type"] == "http.response.start" and draining():
                headers = [(k, v) for k, v in message.get("headers", []) if k != b"connection"]
                message = {**message, "headers": [*headers, (b"connection", b"close")]}
            await send(message)

        return await self.app(scope, receive, send_closing)
