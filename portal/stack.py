"""Start, watch and stop the processes of the embedded stack (``make run``).

Each child runs in a session of its own, so a signal to the stack reaches a Celery worker together
with its pool children, and the stack decides the order of shutdown: web and workers first (Celery's
warm shutdown lets a running task finish), Redis last. Children are also told by the kernel to exit
if the stack itself dies, so nothing is left behind even after a SIGKILL.
"""

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field

import redis

PR_SET_PDEATHSIG = 1


def die_with_parent(sig: int = signal.SIGTERM) -> None:
    """Ask Linux to send ``sig`` to this process when its parent exits (no-op elsewhere)."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
    except OSError:
        return
    libc.prctl(PR_SET_PDEATHSIG, sig)


def web_server_argv(python: str, *, host: str, port: int, trusted_proxies: list[str]) -> list[str]:
    """The ASGI web server as ``make run`` starts it (and docs/deploy.md documents it).

    uvicorn rewrites the client address from ``X-Forwarded-For`` when the peer is one of
    ``--forwarded-allow-ips``, which defaults to 127.0.0.1: anything on the machine could then pick
    its own address. It is given ``TRUSTED_PROXIES`` instead (empty: the header is never believed),
    the same list ``portal.core.observability.client_ip`` reads.
    """
    return [
        python, "-m", "uvicorn", "portal.asgi:application",
        "--host", host, "--port", str(port),
        "--no-access-log", "--lifespan", "off",
        "--forwarded-allow-ips", ",".join(trusted_proxies),
    ]  # fmt: skip


def _child_setup() -> None:
    os.setsid()
    die_with_parent(signal.SIGTERM)


@dataclass
class ProcessGroup:
    out: object = sys.stdout
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)

    def start(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> None:
        self.procs[name] = subprocess.Popen(
            argv,
            env=env,
            preexec_fn=_child_setup,  # setsid and the death signal need it
        )

    def first_exited(self) -> tuple[str, int] | None:
        for name, proc in self.procs.items():
            code = proc.poll()
            if code is not None:
                return name, code
        return None

    def stop(self, *, grace_s: float = 15.0) -> None:
        """Stop everything but Redis, then Redis, each group with SIGTERM and then SIGKILL."""
        others = [name for name in self.procs if name != "redis"]
        self._stop_names(others, grace_s)
        if "redis" in self.procs:
            self._stop_names(["redis"], grace_s)

    def _stop_names(self, names: list[str], grace_s: float) -> None:
        for name in names:
            self._signal(self.procs[name], signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        for name in names:
            proc = self.procs[name]
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                print(f"  {name} did not stop in time; killing it", file=self.out, flush=True)
            # Pool children of a Celery worker live in its process group: make sure none survive.
            self._signal(proc, signal.SIGKILL)
            proc.wait()

    @staticmethod
    def _signal(proc: subprocess.Popen, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)


def redis_answers(url: str) -> bool:
    """Whether a Redis server answers at ``url`` within half a second."""
    client = redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5)
    try:
        return bool(client.ping())
    except (redis.RedisError, OSError):
        return False
    finally:
        client.close()
