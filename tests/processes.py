"""Start and stop real processes (ASGI servers, Celery workers, Redis) from tests.

Each process writes its output to a file, which tests read and which is shown when a start fails.
Processes run in a session of their own and are killed as a group, so no pool child survives a test.
"""

import base64
import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def production_env(var_dir: Path, *, allowed_hosts: str = "testserver") -> dict[str, str]:
    """The environment of a process that loads the settings as production does (DJANGO_ENV and
    every variable it requires; nothing is connected to), for checks of what production computes."""
    env = {**os.environ, "DJANGO_ENV": "production", "SECRET_KEY": secrets.token_urlsafe(64),
           "DATABASE_URL": "postgres://portal@127.0.0.1:5432/portal",
           "REDIS_URL": "redis://127.0.0.1:6379/0", "ALLOWED_HOSTS": allowed_hosts,
           "STORAGE_ENCRYPTION_KEYS": "k1:" + base64.b64encode(secrets.token_bytes(32)).decode(),
           "VAR_DIR": str(var_dir), "DJANGO_SETTINGS_MODULE": "portal.settings"}  # fmt: skip
    # The browser tests allow sync ORM calls next to Playwright's loop in their own process only.
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    return env


def run_python(args: str | list[str], *, env: dict[str, str], timeout: float = 300) -> str:
    """What a Python process of its own printed, run in the project's root: ``args`` is a script,
    or what follows the interpreter (``["manage.py", "sweep_diagnostics"]``). A failure shows the
    end of the process's stderr."""
    argv = [sys.executable, "-c", args] if isinstance(args, str) else [sys.executable, *args]
    done = subprocess.run(
        argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def printed_json(args: str | list[str], *, env: dict[str, str], timeout: float = 300):
    """The JSON on the last line a Python process printed: what a fresh process sees or measures
    (settings read at start-up, the collector's generations, CPU a call), away from the test
    runner's own state."""
    return json.loads(run_python(args, env=env, timeout=timeout).strip().splitlines()[-1])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http_status(url: str, timeout: float = 5.0) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except (urllib.error.URLError, OSError):
        return None


class LiveProcess:
    def __init__(self, name: str, argv: list[str], *, log_dir: Path, env=None) -> None:
        self.name = name
        self.argv = argv
        self.env = env
        self.log_path = Path(log_dir) / f"{name}.log"
        self.proc: subprocess.Popen | None = None

    def start(self, *, ready: Callable[[], bool], timeout: float = 60) -> "LiveProcess":
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            self.argv, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        log.close()
        deadline = time.monotonic() + timeout
        while not ready():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                output = self.output()
                self.stop()
                raise RuntimeError(f"{self.name} did not become ready:\n{output[-4000:]}")
            time.sleep(0.1)
        return self

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def signal_group(self, sig: int) -> None:
        if self.proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, sig)

    def stop(self, timeout: float = 10) -> None:
        if self.proc is None:
            return
        self.signal_group(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=timeout)
        self.signal_group(signal.SIGKILL)
        self.proc.wait()


def asgi_server(
    env: dict, log_dir: Path, port: int | None = None, *, workers: int = 1
) -> LiveProcess:
    """Uvicorn on a free port; ``workers`` processes share it, as a deployment's web processes
    (each runs Django's sync views on one thread: more processes, more uploads at once)."""
    port = port or free_port()
    server = LiveProcess(
        "asgi",
        [sys.executable, "-m", "uvicorn", "portal.asgi:application", "--host", "127.0.0.1",
         "--port", str(port), "--no-access-log", "--lifespan", "off", "--workers", str(workers)],
        log_dir=log_dir, env=env,
    )  # fmt: skip
    server.url = f"http://127.0.0.1:{port}"
    return server.start(ready=lambda: http_status(f"{server.url}/healthz", 1) == 200)


def celery_worker(env: dict, log_dir: Path, *, queues: str, name: str = "worker") -> LiveProcess:
    worker = LiveProcess(
        name,
        [sys.executable, "-m", "celery", "-A", "portal", "worker", "-Q", queues,
         "-n", f"{name}-{os.getpid()}@%h", "--concurrency", "1", "--loglevel", "INFO",
         "--without-gossip", "--without-mingle", "--without-heartbeat"],
        log_dir=log_dir, env=env,
    )  # fmt: skip
    return worker.start(ready=lambda: " ready." in worker.output(), timeout=60)
