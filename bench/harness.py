"""What every benchmark needs: a database to fill, a server to measure, and honest statistics."""

import contextlib
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent


def require_services(*, fresh: bool = False) -> None:
    missing = [name for name in ("DATABASE_URL", "REDIS_URL") if not os.environ.get(name)]
    if missing:
        sys.exit(f"Set {' and '.join(missing)}: the benchmarks run against PostgreSQL and Redis.")
    ensure_database(fresh=fresh)


def ensure_database(*, fresh: bool = False) -> None:
    """Create the benchmark's PostgreSQL database if it does not exist yet; ``fresh`` drops it
    first, so that a run starts from the seed alone and not from earlier runs' rows."""
    from urllib.parse import urlparse

    import psycopg

    url = urlparse(os.environ["DATABASE_URL"])
    name = url.path.lstrip("/")
    admin = url._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        if fresh:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')


def wait_until_quiet(*, busy_below: float = 25, timeout: float = 300) -> float:
    """Wait until the machine's CPUs are under ``busy_below`` percent busy over 5 seconds (a
    seed's autovacuum, the last count's spectrograms), for at most ``timeout`` seconds; the
    last reading. A run measured on a busy machine measures the machine."""
    deadline = time.monotonic() + timeout
    while True:
        busy = psutil.cpu_percent(interval=5)
        if busy < busy_below or time.monotonic() > deadline:
            return busy


# The per-user API rate limit and the upload quotas answer 429 long before the upload path is
# saturated; a benchmark measures the path, so its processes run with both lifted (0 turns a quota
# off, docs/security.md). The anonymous rate too: every virtual user of a load run is 127.0.0.1.
UNLIMITED = {
    "API_THROTTLE_USER": "1000000/min",
    "API_THROTTLE_ANON": "1000000/min",
    "API_THROTTLE_RESEARCH_EXPORT": "1000000/min",
    "UPLOAD_QUOTA_USER_PER_HOUR": "0",
    "UPLOAD_QUOTA_USER_BYTES_PER_HOUR": "0",
    "UPLOAD_QUOTA_SITE_PER_HOUR": "0",
    "UPLOAD_QUOTA_SITE_BYTES_PER_HOUR": "0",
}


def signed_in_session(user) -> str:
    """A signed-in session for ``user``, as the sign-in form leaves it, without its password
    check (a million PBKDF2 rounds: seconds of CPU a sign-in on these cores); its key."""
    from importlib import import_module

    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY

    session = import_module(settings.SESSION_ENGINE).SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[-1]
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    return session.session_key


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def summary_ms(seconds: list[float]) -> str:
    ms = [s * 1000 for s in seconds]
    return (
        f"p50 {statistics.median(ms):7.1f} ms  p95 {percentile(ms, 95):7.1f} ms  "
        f"p99 {percentile(ms, 99):7.1f} ms"
    )


class RssSampler:
    """Samples the resident memory of a process tree every 50 ms; keeps the peak."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def current(self) -> int:
        total = 0
        for proc in [self.process, *self.process.children(recursive=True)]:
            with contextlib.suppress(psutil.NoSuchProcess):
                total += proc.memory_info().rss
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.current())
            time.sleep(0.05)

    def __enter__(self):
        self.peak = self.current()
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def start_server(port: int, env: dict, *, workers: int = 1) -> subprocess.Popen:
    argv = [sys.executable, "-m", "uvicorn", "portal.asgi:application", "--host", "127.0.0.1",
            "--port", str(port), "--no-access-log", "--lifespan", "off", "--log-level", "warning"]  # fmt: skip
    if workers > 1:
        argv += ["--workers", str(workers)]
    proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
    import httpx

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("the server did not start")


def machine() -> str:
    return f"{os.cpu_count()} CPU cores, {psutil.virtual_memory().total / 2**30:.0f} GiB RAM"


def server_processes(name: str) -> list[psutil.Process]:
    """The processes of a server running on this machine, by name ("postgres", "redis-server")."""
    return [p for p in psutil.process_iter(["name"]) if p.info["name"] == name]


def cpu_seconds(processes) -> float:
    """CPU seconds (user and system) used so far by ``processes``; one that has exited counts 0."""
    total = 0.0
    for process in processes:
        with contextlib.suppress(psutil.NoSuchProcess):
            times = process.cpu_times()
            total += times.user + times.system
    return total
