"""The load mix for ``bench/load.py``: clinicians at work and researchers exporting, in Locust.

Run by ``bench/load.py`` (which seeds the database, starts the stack and writes the plan this file
reads); not meant to be run alone. The environment it reads:

- ``LOAD_PLAN``: a JSON file with the accounts (one per virtual user: a clinician per user, so
  no account's lockout or per-user limit is shared), the password and the patients to visit;
- ``LOAD_USERS``: how many users the run spawns (the window opens when they have all signed in);
- ``LOAD_MEASURE_S``: how long the measured window lasts before this file stops the run;
- ``LOAD_THINK_S``: a user's mean pause between two actions (uniform, half to one and a half);
- ``LOAD_RESULTS``: where the window's raw timings are written at the end (JSON).

One clinician in ten signs in on the sign-in page (as at the start of a shift); the others arrive
with a session ``bench/load.py`` made for their account (mid-shift; a password check costs over a
second of CPU on two cores, by design, and would turn the ramp into a sign-in benchmark). Then
each repeats a visit:
home, a patient search (the form's POST and the results it redirects to), the patient page and
its pending-results call (what the page's script asks first), a live socket on the patient, an
upload through the API as the page's recorder sends it (session and CSRF token), the result on
the socket, the result's card (what the page fetches on the message), the result page, and a
review. A researcher takes a JWT token, then lists the models and exports a site's anomalous
coughs as CSV. One probe user asks ``/healthz`` once a second, the yardstick of how busy the
machine was. Every request's time is Locust's own (the request, its body read); the upload to
result is from the upload's first byte sent to the socket's message with the finished status.

Timings are kept here, not taken from Locust's statistics: only what happens inside the window
counts (sign-ins are kept apart, they all fall in the ramp), and percentiles are exact.
"""

import itertools
import json
import os
import random
import time
from collections import defaultdict
from pathlib import Path

import gevent
import websocket
from locust import HttpUser, between, constant, events, task

PLAN = json.loads(Path(os.environ["LOAD_PLAN"]).read_text())
USERS = int(os.environ.get("LOAD_USERS", "1"))
MEASURE_S = float(os.environ.get("LOAD_MEASURE_S", "60"))
THINK_S = float(os.environ.get("LOAD_THINK_S", "5"))
RESULT_TIMEOUT_S = 60
SIGN_IN_EVERY = 10  # one clinician in ten signs in on the page; the others arrive signed in

_next_account = {"clinician": itertools.count(), "researcher": itertools.count()}
_window = {"start": None, "end": None, "signed_in": 0}
_times: dict[str, list[float]] = defaultdict(list)  # name -> ms, inside the window
_errors: dict[str, list[str]] = defaultdict(list)  # name -> what went wrong, inside the window
_sign_ins: list[float] = []  # ms, whenever they happen
_sign_in_errors: list[str] = []


def _account(role: str) -> str:
    names = PLAN[f"{role}s"]
    return names[next(_next_account[role]) % len(names)]


def _in_window() -> bool:
    return _window["start"] is not None and _window["end"] is None


@events.request.add_listener
def _record(name, response_time, exception, **_kwargs):
    if name in ("sign-in", "api: token"):
        if exception is not None:
            _sign_in_errors.append(f"{name}: {exception}"[:200])
        _sign_ins.append(response_time)
        return
    if not _in_window():
        return
    if exception is not None:
        _errors[name].append(str(exception)[:200])
    else:
        _times[name].append(response_time)


def _signed_in(environment) -> None:
    _window["signed_in"] += 1
    if _window["signed_in"] == USERS and _window["start"] is None:
        _window["start"] = time.time()
        gevent.spawn_later(MEASURE_S, _close_window, environment)


def _close_window(environment) -> None:
    _window["end"] = time.time()
    # Written now, not only at quitting: Locust's quit can take until ``--run-time`` to return
    # (seen at 100 users), and bench/load.py stops Locust once the file is there.
    _write_results(environment)
    environment.runner.quit()


@events.quitting.add_listener
def _write_results(environment, **_kwargs):
    end = _window["end"] or time.time()
    results = Path(os.environ["LOAD_RESULTS"])
    partial = results.with_suffix(".partial")
    partial.write_text(json.dumps({
        "window_start": _window["start"], "window_end": end, "signed_in": _window["signed_in"],
        "times_ms": _times, "errors": _errors, "sign_in_ms": _sign_ins,
        "sign_in_errors": _sign_in_errors,
    }))  # fmt: skip
    partial.replace(results)  # whole, for the bench that waits on it


def _fire(environment, name: str, started: float, exception=None) -> None:
    environment.events.request.fire(
        request_type="WS", name=name, response_time=(time.perf_counter() - started) * 1000,
        response_length=0, exception=exception, context={},
    )  # fmt: skip


class Clinician(HttpUser):
    weight = 19
    wait_time = between(THINK_S / 2, THINK_S * 1.5)

    def on_start(self):
        index = next(_next_account["clinician"])
        self.username = PLAN["clinicians"][index % len(PLAN["clinicians"])]
        if index % SIGN_IN_EVERY:
            # Signed in already, earlier in the shift: a session made by bench/load.py.
            self.client.cookies.set(PLAN["session_cookie"], PLAN["sessions"][self.username])
            self.client.get("/", name="home")  # the page that sets the CSRF cookie
            _signed_in(self.environment)
            return
        self.client.get("/accounts/login/", name="sign-in page")
        with self.client.post(
            "/accounts/login/", name="sign-in", allow_redirects=False, catch_response=True,
            data={"username": self.username, "password": PLAN["password"],
                  "csrfmiddlewaretoken": self.client.cookies.get("csrftoken", "")},
        ) as response:  # fmt: skip
            if response.status_code != 302:
                response.failure(f"status {response.status_code}")
        _signed_in(self.environment)

    def csrf(self) -> str:
        return self.client.cookies.get("csrftoken", "")

    def wait(self):
        """Think, then drop the idle connection: uvicorn closes a connection after 5 s without a
        request (``--timeout-keep-alive``), and a request sent as it closes fails with a reset; a
        browser that has thought that long opens a new one, and so does this user."""
        super().wait()
        self.client.close()

    @task
    def visit(self):
        self.client.close()  # after Locust's own pause between visits
        patient_id, search = random.choice(PLAN["patients"])
        self.client.get("/", name="home")
        self.wait()
        self.client.post("/patients/", name="patient search",
                         data={"q": search, "csrfmiddlewaretoken": self.csrf()})  # fmt: skip
        self.wait()
        self.client.get(f"/patients/{patient_id}/", name="patient page")
        self.client.get(f"/api/v1/patients/{patient_id}/pending/", name="api: pending results")
        self.wait()
        diagnostic_id = self.upload_and_wait(patient_id)
        if diagnostic_id is None:
            return
        self.client.get(f"/diagnostics/{diagnostic_id}/card/", name="result card")
        self.wait()
        self.client.get(f"/diagnostics/{diagnostic_id}/", name="result page")
        self.wait()
        with self.client.post(
            f"/diagnostics/{diagnostic_id}/review/", name="review", allow_redirects=False,
            data={"decision": "confirm", "note": "", "csrfmiddlewaretoken": self.csrf()},
            catch_response=True,
        ) as response:  # fmt: skip
            if response.status_code != 302:
                response.failure(f"status {response.status_code}")

    def upload_and_wait(self, patient_id: int) -> int | None:
        """The page's socket on the patient, the recorder's upload, the result on the socket."""
        base = self.host.rstrip("/")
        cookie = "; ".join(f"{c.name}={c.value}" for c in self.client.cookies)
        started = time.perf_counter()
        try:
            ws = websocket.create_connection(
                base.replace("http://", "ws://") + f"/ws/patients/{patient_id}/",
                cookie=cookie, origin=base, timeout=RESULT_TIMEOUT_S,
            )  # fmt: skip
        except Exception as exc:  # any failure to connect is the socket's error
            _fire(self.environment, "socket connect", started, exc)
            return None
        _fire(self.environment, "socket connect", started)
        try:
            return self._upload(ws, patient_id)
        finally:
            ws.close()

    def _upload(self, ws, patient_id: int) -> int | None:
        started = time.perf_counter()
        with self.client.post(
            "/api/v1/recordings/", name="api: upload", catch_response=True,
            headers={"X-CSRFToken": self.csrf(), "Accept": "application/json"},
            data={"patient": str(patient_id), "kind": "cough", "symptoms": "{}"},
            files={"file": ("cough.wav", distinct_clip(), "audio/wav")},
        ) as response:  # fmt: skip
            if response.status_code not in (201, 202):
                response.failure(f"status {response.status_code} {response.text[:120]}")
                return None
            diagnostic_id = response.json()["diagnostic"]["id"]
        deadline = started + RESULT_TIMEOUT_S
        while True:
            ws.settimeout(max(0.1, deadline - time.perf_counter()))
            try:
                message = json.loads(ws.recv())
            except Exception as exc:  # a timeout or a closed socket: no result
                _fire(self.environment, "upload to result", started, exc)
                return None
            if message.get("id") == diagnostic_id and message.get("status") in (
                "succeeded",
                "failed",
            ):
                failed = message["status"] == "failed"
                _fire(self.environment, "upload to result", started,
                      RuntimeError("analysis failed") if failed else None)  # fmt: skip
                return None if failed else diagnostic_id


class Probe(HttpUser):
    """The yardstick: ``/healthz`` once a second, the server's answer without a query or a
    template, so the figures of a run can be read against how busy the machine was."""

    fixed_count = 1
    wait_time = constant(1)

    def on_start(self):
        _signed_in(self.environment)

    @task
    def healthz(self):
        self.client.get("/healthz", name="baseline /healthz")


class Researcher(HttpUser):
    weight = 1
    wait_time = between(THINK_S * 2, THINK_S * 6)

    def on_start(self):
        username = _account("researcher")
        with self.client.post(
            "/api/v1/auth/token/", name="api: token", catch_response=True,
            json={"username": username, "password": PLAN["password"]},
        ) as response:  # fmt: skip
            if response.status_code == 200:
                self.client.headers["Authorization"] = f"Bearer {response.json()['access']}"
            else:
                response.failure(f"status {response.status_code}")
        _signed_in(self.environment)

    @task(3)
    def models(self):
        self.client.get("/api/v1/models/", name="api: models")

    @task
    def export(self):
        self.client.get(PLAN["export_path"], name="api: research export (csv)")


_CLIP = Path(PLAN["clip"]).read_bytes()


def distinct_clip() -> bytes:
    """The plan's 5-second clip with its last samples changed, so no upload repeats another."""
    return _CLIP[:-64] + random.randbytes(64)
