"""Start, watch and stop the processes of the embedded stack (``make run``).

Each child runs in a session of its own, so the stack decides the order of shutdown: web and workers
first, Redis last. SIGTERM goes to each child's main process alone, as Kubernetes sends it: the web
server drains and a Celery worker's warm shutdown lets its pool finish the running task (a pool
process signalled too would die at once); SIGKILL, after the grace period, goes to the whole group. Children are also told by the kernel to exit
if the stack itself dies, so nothing is left behind even after a SIGKILL.

A child started with ``restart=True`` (the embedded Redis) is started again when it exits, after a
back-off that doubles from 1 s to ``RESTART_MAX_DELAY_S`` while it keeps exiting and starts over
once it has run ``RESTART_RESET_S``: the web server and workers stay up meanwhile and reconnect.
Any other child's exit stops the stack, as does Ctrl-C or SIGTERM.
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
RESTART_MAX_DELAY_S = 30.0
RESTART_RESET_S = 60.0
# Files the stack's processes create (the SQLite database and its -wal/-shm, logs, Redis's
# append-only file, stored objects) are readable by this user only.
PRIVATE_UMASK = 0o077


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
        "--no-access-log", "--lifespan", "off", "--timeout-graceful-shutdown", "10",
        "--forwarded-allow-ips", ",".join(trusted_proxies),
    ]  # fmt: skip


def _child_setup() -> None:
    os.setsid()
    os.umask(PRIVATE_UMASK)
    die_with_parent(signal.SIGTERM)


@dataclass
class _Restart:
    argv: list[str]
    env: dict[str, str] | None
    started_at: float
    failures: int = 0  # exits in a row, each within RESTART_RESET_S of its start
    due_at: float | None = None  # when the exited child is started again
    log: object = None  # where its output goes (None: the terminal)


@dataclass
class ProcessGroup:
    out: object = sys.stdout
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)
    restarts: dict[str, _Restart] = field(default_factory=dict)

    def start(
        self,
        name: str,
        argv: list[str],
        env: dict[str, str] | None = None,
        *,
        restart: bool = False,
        log=None,
    ) -> None:
        """Start ``argv``; with ``log`` (an open file) its output goes there, not to the terminal."""
        self.procs[name] = subprocess.Popen(
            argv,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT if log is not None else None,
            preexec_fn=_child_setup,  # setsid and the death signal need it
        )
        if restart:
            self.restarts[name] = _Restart(argv, env, started_at=time.monotonic(), log=log)

    def supervise(self) -> tuple[str, int] | None:
        """Start again the restartable children that exited, once their back-off has passed;
        return the name and status of another child that exited (the stack must stop)."""
        now = time.monotonic()
        for name, proc in self.procs.items():
            code = proc.poll()
            if code is None:
                continue
            if name not in self.restarts:
                return name, code
            self._restart_when_due(name, code, now)
        return None

    def _restart_when_due(self, name: str, code: int, now: float) -> None:
        plan = self.restarts[name]
        if plan.due_at is None:
            ran_s = now - plan.started_at
            plan.failures = 1 if ran_s >= RESTART_RESET_S else plan.failures + 1
            delay = min(RESTART_MAX_DELAY_S, 2.0 ** (plan.failures - 1))
            plan.due_at = now + delay
            print(
                f"{name} exited with status {code}; restarting it in {delay:.0f} s.",
                file=self.out,
                flush=True,
            )
        elif now >= plan.due_at:
            self._signal(self.procs[name], signal.SIGKILL)  # nothing of its group may linger
            self.start(name, plan.argv, plan.env, restart=True, log=plan.log)
            self.restarts[name].failures = plan.failures
            print(f"{name} restarted.", file=self.out, flush=True)

    def first_exited(self) -> tuple[str, int] | None:
        for name, proc in self.procs.items():
            code = proc.poll()
            if code is not None:
                return name, code
        return None

    def stop(self, *, grace_s: float = 15.0) -> None:
        """Stop everything but Redis, then Redis: SIGTERM to each main process, SIGKILL to its group."""
        others = [name for name in self.procs if name != "redis"]
        self._stop_names(others, grace_s)
        if "redis" in self.procs:
            self._stop_names(["redis"], grace_s)

    def _stop_names(self, names: list[str], grace_s: float) -> None:
        for name in names:
            with contextlib.suppress(ProcessLookupError):
                self.procs[name].send_signal(signal.SIGTERM)
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
