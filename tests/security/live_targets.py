"""The two targets the security review replayed its findings against, started as an operator
starts them: ``make run`` (``manage.py runstack`` on the embedded default: SQLite, files under
``var/``, its own Redis, the workers and beat, the demo users) and a second web process with
``DJANGO_ENV=production`` beside it, run as docs/deploy.md runs it (``collectstatic``, then
uvicorn), on the stack's database, Redis and stored files.

Only the model is prepared ahead: the tests' tiny model is registered in the fresh database, so
``make run`` finds a production model instead of training the baseline for minutes.
"""

import os
import re
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from django_otp.oath import totp

from tests.processes import ROOT, LiveProcess, free_port, http_status, production_env

TOTP_STEP_S = 30  # django-otp's default step, the demo devices' own
TOTP_MARGIN_S = 3  # longer than a busy server takes to check a code

DEMO_PASSWORD = "a-long-demo-password-for-the-review"
TOTP_KEY = "3132333435363738393031323334353637383930"  # DEMO_TOTP_KEY: every device's key here
METRICS_TOKEN = "a-metrics-token-for-the-scraper"
# Small limits, so that the replays reach them with a few requests; the same in both processes.
LIMITS = {"API_THROTTLE_USER": "30/min", "UPLOAD_QUOTA_USER_PER_HOUR": "2",
          "LOGIN_ADDRESS_FAILURE_LIMIT": "10"}  # fmt: skip
# What the embedded default must not inherit from the test run's environment.
SERVICE_VARIABLES = ("DATABASE_URL", "REDIS_URL", "STORAGE_BACKEND", "DJANGO_ENV", "SECRET_KEY",
                     "STORAGE_ENCRYPTION_KEYS", "MEDIA_ROOT", "DJANGO_ALLOW_ASYNC_UNSAFE")  # fmt: skip

PREPARE = """
from django.core.management import call_command
call_command("migrate", verbosity=0)
call_command("import_model", {artifact!r}, promote=True)
"""

ADD_USERS = """
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django_otp.plugins.otp_totp.models import TOTPDevice
from portal.core.models import Membership, Role, Site

north = Site.objects.get(code="north")
hashed = make_password({password!r})  # once: each hash takes a good part of a second
for username, kind in {users!r}:
    staff = kind != "clinician"
    user = get_user_model().objects.create(
        username=username, password=hashed, is_staff=staff, is_superuser=kind == "superuser"
    )
    if kind == "clinician":
        Membership.objects.create(user=user, site=north, role=Role.CLINICIAN)
    if kind != "staff_without_device":
        TOTPDevice.objects.create(user=user, name="authenticator", key={key!r})
print("users added")
"""


def send_every_cookie(client: httpx.Client):
    """Production marks its cookies Secure, which a client sends over HTTPS only; the TLS proxy
    in front of the process is left out here, so the client sends them as the proxy passes them
    on: all of them, over the plain connection."""

    def add_cookies(request: httpx.Request) -> None:
        cookies = "; ".join(f"{c.name}={c.value}" for c in client.cookies.jar)
        if cookies:
            request.headers["Cookie"] = cookies

    return add_cookies


@dataclass
class Target:
    name: str  # "stack" or "production"
    url: str
    data_dir: Path  # the stack's var/: the SQLite database and the stored files
    production: bool
    codes_used: dict = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def client(self, source: str = "127.0.0.1") -> httpx.Client:
        """A browser or API client connecting from ``source`` (any 127.x.y.z address is this
        machine, so each replay that fails sign-ins on purpose can come from its own)."""
        scheme = "https" if self.production else "http"
        headers = {"Origin": f"{scheme}://{self.url.removeprefix('http://')}"}
        if self.production:
            headers["X-Forwarded-Proto"] = "https"  # what the TLS proxy adds
        client = httpx.Client(
            base_url=self.url, headers=headers, timeout=60,
            transport=httpx.HTTPTransport(local_address=source),
        )  # fmt: skip
        client.event_hooks["request"].append(send_every_cookie(client))
        return client

    def api(self, bearer: dict) -> httpx.Client:
        """An API client sending ``bearer`` (from ``access``) with every request."""
        client = self.client()
        client.headers.update(bearer)
        return client

    def code(self, username: str) -> str:
        """The code the user's authenticator shows now, or the next one once that was used (a
        device accepts a code once, and one step ahead).

        Never in a step's last seconds: a code checked after its step has turned is accepted as
        one step behind, and django-otp then moves the device's window back a step (its drift
        sync), out of reach of the next code ahead (a CI run failed so, once)."""
        left = TOTP_STEP_S - time.time() % TOTP_STEP_S
        if left < TOTP_MARGIN_S:
            time.sleep(left + 0.05)
        with self.lock:
            drift = self.codes_used.get(username, 0)
            self.codes_used[username] = drift + 1
        return f"{totp(bytes.fromhex(TOTP_KEY), drift=drift):06d}"

    def database(self) -> sqlite3.Connection:
        return sqlite3.connect(self.data_dir / "db.sqlite3", timeout=20)

    def tokens(self, username: str, *, with_code: bool = True, source: str = "127.0.0.1"):
        body = {"username": username, "password": DEMO_PASSWORD}
        if with_code:
            body["otp_token"] = self.code(username)
        with self.client(source) as client:
            return client.post("/api/v1/auth/token/", json=body)

    def access(self, username: str) -> dict:
        response = self.tokens(username)
        assert response.status_code == 200, response.text
        return {"Authorization": f"Bearer {response.json()['access']}"}

    def sign_in(self, client: httpx.Client, username: str, *, with_code: bool = True):
        """The sign-in form, posted as a browser does (its CSRF token from the page)."""
        data = {"username": username, "password": DEMO_PASSWORD,
                "otp_token": self.code(username) if with_code else ""}  # fmt: skip
        return post_form(client, "/accounts/login/", data)


def post_form(client: httpx.Client, path: str, data: dict, *, form_page: str | None = None):
    """GET the page holding the form, then POST it with the page's CSRF token."""
    page = client.get(form_page or path)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    assert token, f"no form on {form_page or path} ({page.status_code})"
    return client.post(path, data={**data, "csrfmiddlewaretoken": token.group(1)})


def manage(env: dict, *args: str) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    return result


def stack_env(data_dir: Path) -> dict:
    """``make run``'s environment: no service variables (the embedded default), its data in
    ``data_dir``, free ports, the demo's password and authenticator key chosen."""
    env = {k: v for k, v in os.environ.items() if k not in SERVICE_VARIABLES}
    env.update(
        VAR_DIR=str(data_dir), PORT=str(free_port()), EMBEDDED_REDIS_PORT=str(free_port()),
        INFERENCE_METRICS_PORT=str(free_port()), DEMO_PASSWORD=DEMO_PASSWORD,
        DEMO_TOTP_KEY=TOTP_KEY, TF_CPP_MIN_LOG_LEVEL="2", **LIMITS,
    )  # fmt: skip
    return env


def start_stack(data_dir: Path, artifact: Path, log_dir: Path) -> tuple[LiveProcess, dict]:
    """``manage.py runstack`` started (not yet ready) on a fresh database holding ``artifact``
    as its production model."""
    env = stack_env(data_dir)
    manage(env, "shell", "-c", PREPARE.format(artifact=str(artifact)))
    stack = LiveProcess(
        "runstack", [sys.executable, "manage.py", "runstack"], log_dir=log_dir, env=env
    )
    stack.start(ready=lambda: True)  # waited for later: the production process starts meanwhile
    stack.url = f"http://127.0.0.1:{env['PORT']}"
    return stack, env


def wait_for_stack(stack: LiveProcess, timeout: float = 300) -> None:
    """Wait for the banner ``make run`` prints last, once everything answers."""
    deadline = time.monotonic() + timeout
    while "The portal is running" not in stack.output():
        if stack.proc.poll() is not None or time.monotonic() > deadline:
            output = stack.output()
            stack.stop()
            raise RuntimeError(f"make run did not become ready:\n{output[-4000:]}")
        time.sleep(0.2)


def production_web_env(stack: dict, var_dir: Path) -> dict:
    """A production-mode web process's environment, on the stack's SQLite database, Redis and
    stored files (its key ring too); its own secret key and static files."""
    data_dir = Path(stack["VAR_DIR"])
    return {
        **production_env(var_dir, allowed_hosts="127.0.0.1"),
        "DATABASE_URL": f"sqlite:///{data_dir / 'db.sqlite3'}",
        "REDIS_URL": f"redis://127.0.0.1:{stack['EMBEDDED_REDIS_PORT']}/0",
        "STORAGE_ENCRYPTION_KEYS": (data_dir / "storage_encryption_keys").read_text().strip(),
        "MEDIA_ROOT": str(data_dir / "media"), "METRICS_TOKEN": METRICS_TOKEN, **LIMITS,
    }  # fmt: skip


def production_web_argv(port: int) -> list[str]:
    """The documented production web command (README, "Processes"), on loopback."""
    return [sys.executable, "-m", "uvicorn", "portal.asgi:application", "--host", "127.0.0.1",
            "--port", str(port), "--no-access-log", "--lifespan", "off",
            "--timeout-graceful-shutdown", "20", "--no-proxy-headers"]  # fmt: skip


def start_production(env: dict, log_dir: Path) -> LiveProcess:
    manage(env, "collectstatic", "--noinput", "-v", "0")  # the documented deploy path
    port = free_port()
    server = LiveProcess("production", production_web_argv(port), log_dir=log_dir, env=env)
    server.url = f"http://127.0.0.1:{port}"
    return server.start(ready=lambda: http_status(f"{server.url}/healthz", 1) == 200, timeout=120)


def add_users(env: dict, users: list[tuple[str, str]]) -> None:
    """Users made in the stack's database with ``manage.py shell``, as an operator could:
    ``kind`` is clinician (of the demo's north site), superuser or staff_without_device; all but
    the last have an authenticator with the demo's key."""
    script = ADD_USERS.format(password=DEMO_PASSWORD, users=users, key=TOTP_KEY)
    manage(env, "shell", "-c", script)
