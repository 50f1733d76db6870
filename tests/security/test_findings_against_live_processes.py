"""Issue 17's twelve findings, replayed as the review wrote them, over real HTTP and WebSockets,
against a fresh ``make run`` (``manage.py runstack``: embedded SQLite, files and Redis, workers,
beat and the demo users) and against a web process with ``DJANGO_ENV=production`` beside it on
the same database, Redis and files (``tests/security/live_targets.py``). Each replay now meets the
fixed behaviour. Both are started once for the module.

Where a finding does not apply to a target, its parameter is skipped naming the test that covers
it. Finding 5 (the audit log) is replayed on the stack's SQLite file, which the production process
here shares; finding 6 (the admin's CSV export) plants its formula in that file, as a clinician's
typing would, and exports it through the admin.
"""

import contextlib
import csv
import io
import sqlite3
import subprocess
from concurrent.futures import ThreadPoolExecutor

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect as ws_connect

from tests.diagnostics.conftest import tiny_artifact  # noqa: F401 - fixture
from tests.media_assets.uploading import cough_wav
from tests.processes import ROOT
from tests.security.live_targets import (
    DEMO_PASSWORD,
    METRICS_TOKEN,
    Target,
    add_users,
    post_form,
    production_web_argv,
    production_web_env,
    start_production,
    start_stack,
    wait_for_stack,
)

pytestmark = pytest.mark.slow

BOTH = ["stack", "production"]
USERS = [  # one user a replay on each target: tokens revoked or limits spent stay its own
    ("signout", "clinician"), ("password", "clinician"), ("socket", "clinician"),
    ("cache", "clinician"), ("rate", "clinician"), ("quota", "clinician"),
    ("upload", "clinician"), ("cursor", "clinician"), ("exporter", "superuser"),
    ("newstaff", "staff_without_device"),
]  # fmt: skip
SESSION_ENDED = 4401


def production_only(reason: str) -> list:
    return [pytest.param("stack", marks=pytest.mark.skip(reason=reason)), "production"]


def stack_only(reason: str) -> list:
    return ["stack", pytest.param("production", marks=pytest.mark.skip(reason=reason))]


@pytest.fixture(scope="module")
def targets(tiny_artifact, tmp_path_factory):  # noqa: F811
    data_dir = tmp_path_factory.mktemp("make-run") / "var"
    logs = tmp_path_factory.mktemp("logs")
    stack, stack_env = start_stack(data_dir, tiny_artifact, logs)
    production = None
    try:
        production_var = tmp_path_factory.mktemp("production") / "var"
        production = start_production(production_web_env(stack_env, production_var), logs)
        wait_for_stack(stack)
        add_users(stack_env, [(f"{name}-{user}", kind) for name in BOTH for user, kind in USERS])
        yield {
            "stack": Target("stack", stack.url, data_dir, production=False),
            "production": Target("production", production.url, data_dir, production=True),
        }
    finally:
        if production is not None:
            production.stop()
        stack.stop(timeout=40)


@pytest.fixture
def target(targets, name) -> Target:
    return targets[name]


def user(target: Target, purpose: str) -> str:
    return f"{target.name}-{purpose}"


@contextlib.contextmanager
def signed_in(target: Target, username: str):
    """A browser signed in on the sign-in page (with the code where the account needs one)."""
    with target.client() as browser:
        response = target.sign_in(browser, username)
        assert response.status_code == 302, response.text[-2000:]
        yield browser


def first_diagnostic(client) -> dict:
    """A demo result (with its patient and recording) the user may see."""
    response = client.get("/api/v1/diagnostics/", params={"page_size": 1})
    assert response.status_code == 200, response.text
    return response.json()["results"][0]


def cache_control(response) -> set[str]:
    return {part.strip() for part in response.headers.get("Cache-Control", "").split(",")}


# 1. The second factor guarded only /admin/.
@pytest.mark.parametrize("name", BOTH)
def test_1_staff_get_no_token_and_no_patient_page_with_the_password_alone(target):
    for username in ("admin", "siteadmin"):
        refused = target.tokens(username, with_code=False, source="127.0.1.1")
        assert refused.status_code == 401 and "access" not in refused.json()
        assert refused.json()["error"]["code"] == "otp_required"

    with target.client("127.0.1.1") as browser:
        form = target.sign_in(browser, "siteadmin", with_code=False)
        patients = browser.get("/patients/")

    assert form.status_code == 200 and "one-time code" in form.text  # asked for the code
    assert patients.status_code == 302
    assert patients.headers["Location"].startswith("/accounts/login/")


# 2. API tokens could not be revoked.
def sign_out(browser) -> None:
    """The header's sign-out button; Django's signed-out page answers it."""
    assert post_form(browser, "/accounts/logout/", {}, form_page="/").status_code == 200


def sign_out_on_the_page(target: Target, username: str) -> None:
    with signed_in(target, username) as browser:
        sign_out(browser)


def change_the_password(target: Target, username: str) -> None:
    new = "a-new-long-password-for-the-review"
    with signed_in(target, username) as browser:
        changed = post_form(
            browser, "/accounts/password_change/",
            {"old_password": DEMO_PASSWORD, "new_password1": new, "new_password2": new},
        )  # fmt: skip
    assert changed.status_code == 302, changed.text[-2000:]


@pytest.mark.parametrize("name", BOTH)
@pytest.mark.parametrize(
    ("purpose", "event"), [("signout", sign_out_on_the_page), ("password", change_the_password)]
)
def test_2_signing_out_or_a_password_change_ends_the_api_tokens(target, purpose, event):
    username = user(target, purpose)
    tokens = target.tokens(username).json()
    bearer = {"Authorization": f"Bearer {tokens['access']}"}
    with target.client() as api:
        assert api.get("/api/v1/patients/", headers=bearer).status_code == 200

        event(target, username)

        old_access = api.get("/api/v1/patients/", headers=bearer)
        minted = api.post("/api/v1/auth/token/refresh/", json={"refresh": tokens["refresh"]})
    assert old_access.status_code == 401
    assert old_access.json()["error"]["code"] == "token_revoked"
    assert minted.status_code == 401 and "access" not in minted.json()


# 3. PHI responses could be cached.
@pytest.mark.parametrize("name", BOTH)
def test_3_every_listed_phi_route_says_no_store(target):
    with signed_in(target, user(target, "cache")) as browser:
        result = first_diagnostic(browser)
        patient, diagnostic, recording = result["patient"], result["id"], result["recording"]
        pages = [
            "/", "/patients/", f"/patients/{patient}/", f"/patients/{patient}/edit/",
            f"/diagnostics/{diagnostic}/", "/review/", "/api/v1/patients/",
            f"/api/v1/diagnostics/{diagnostic}/", f"/api/v1/diagnostics/{diagnostic}/similar/",
        ]  # fmt: skip
        answers = {path: browser.get(path) for path in pages}
        spectrogram = browser.get(f"/media/recordings/{recording}/spectrogram.png")

    cacheable = {
        path: (r.status_code, r.headers.get("Cache-Control"))
        for path, r in answers.items()
        if r.status_code != 200 or "no-store" not in cache_control(r)
    }
    assert cacheable == {}
    # Rendered by the maintenance worker: there already, or not yet (404); never kept either way.
    assert spectrogram.status_code in (200, 404)
    assert "no-store" in cache_control(spectrogram)
    assert not any(part.startswith("max-age") for part in cache_control(spectrogram))


# 4. Sign-in could be sprayed; a forged X-Forwarded-For from loopback was believed.
@pytest.mark.parametrize(("name", "address"), [("stack", "127.0.4.1"), ("production", "127.0.4.2")])
def test_4_a_spray_from_one_address_is_paused_whatever_it_forwards(target, address):
    limit = 10  # LOGIN_ADDRESS_FAILURE_LIMIT in both processes (live_targets.LIMITS)
    with target.client(address) as attacker:
        spray = [
            attacker.post(
                "/api/v1/auth/token/", json={"username": f"guess-{i}", "password": "Winter2026!"},
                headers={"X-Forwarded-For": f"203.0.113.{i + 1}"},
            )
            for i in range(30)
        ]  # fmt: skip

    # The failure that reaches the limit is answered "paused" already.
    assert [r.status_code for r in spray] == [401] * (limit - 1) + [429] * (31 - limit)
    assert spray[-1].json()["error"]["code"] == "sign_in_paused"
    assert int(spray[-1].headers["Retry-After"]) > 0
    with target.database() as db:
        audited = {ip for (ip,) in db.execute(
            "SELECT DISTINCT ip FROM portal_auditevent WHERE action = 'auth.sign_in_failed'"
        )}  # fmt: skip
    assert address in audited
    assert not any(ip.startswith("203.0.113.") for ip in audited)


# 5. The audit log was append-only only at the ORM manager on SQLite.
@pytest.mark.parametrize(
    "name",
    stack_only(
        "the production process here shares the stack's SQLite file; PostgreSQL's trigger: "
        "test_audit_log_append_only.py::test_the_suites_database_refuses_every_way_of_changing_an_event"
    ),
)
def test_5_raw_sql_on_the_stacks_database_file_cannot_change_the_audit_log(target):
    with target.database() as db:
        last, action = db.execute(
            "SELECT id, action FROM portal_auditevent ORDER BY id DESC LIMIT 1"
        ).fetchone()
        refused = []
        for statement in (
            "UPDATE portal_auditevent SET action = 'tampered' WHERE id = ?",
            "DELETE FROM portal_auditevent WHERE id = ?",
        ):
            try:
                db.execute(statement, (last,))
            except sqlite3.DatabaseError as error:
                refused.append(str(error))
        db.rollback()
        after = db.execute("SELECT action FROM portal_auditevent WHERE id = ?", (last,)).fetchall()

    assert len(refused) == 2, refused
    assert after == [(action,)]


# 6. Formula injection in the admin's CSV export.
@pytest.mark.parametrize("name", BOTH)
def test_6_the_admins_csv_export_writes_formulas_as_text(target):
    formula = f'=HYPERLINK("http://x/{target.name}")'
    with target.database() as db:
        (patient,) = db.execute("SELECT id FROM portal_patient ORDER BY id LIMIT 1").fetchone()
        # A family name as a clinician could have typed it on the patient form.
        db.execute("UPDATE portal_patient SET family_name = ? WHERE id = ?", (formula, patient))

    with signed_in(target, user(target, "exporter")) as admin:
        exported = post_form(
            admin, "/admin/portal/patient/",
            {"action": "export_as_csv", "_selected_action": [patient]},
        )  # fmt: skip

    assert exported.status_code == 200, exported.text[-2000:]
    rows = list(csv.reader(io.StringIO(exported.text)))
    assert rows[1][rows[0].index("family_name")] == f"'{formula}"


# 7. Live sockets outlived sign-out.
@pytest.mark.parametrize("name", BOTH)
def test_7_a_socket_opened_before_signing_out_is_closed_after_it(target):
    with signed_in(target, user(target, "socket")) as browser:
        patient = first_diagnostic(browser)["patient"]
        cookie = "; ".join(f"{c.name}={c.value}" for c in browser.cookies.jar)
        url = target.url.replace("http://", "ws://") + f"/ws/patients/{patient}/"
        headers = {"Cookie": cookie, "Origin": browser.headers["Origin"]}
        with ws_connect(url, additional_headers=headers, open_timeout=30) as socket:
            snapshot = drain(socket)
            sign_out(browser)
            with pytest.raises(ConnectionClosed) as closed:  # closed, not sent anything more
                socket.recv(timeout=15)

    assert snapshot, "the open socket sent the patient's results"
    assert closed.value.rcvd is not None and closed.value.rcvd.code == SESSION_ENDED


def drain(socket) -> list[str]:
    """The messages a socket sends on opening (the patient's snapshot), until it is quiet."""
    messages = []
    with contextlib.suppress(TimeoutError):
        while True:
            messages.append(socket.recv(timeout=2))
    return messages


# 8. Rate limits leaked under concurrency, and uploads had no quota.
@pytest.mark.parametrize("name", BOTH)
def test_8_parallel_clients_get_exactly_the_users_rate(target):
    bearer = target.access(user(target, "rate"))
    limit = 30  # API_THROTTLE_USER in both processes (live_targets.LIMITS)

    def client_run(_index) -> list[int]:
        with target.api(bearer) as api:
            return [api.get("/api/v1/patients/").status_code for _ in range(8)]

    with ThreadPoolExecutor(6) as pool:
        statuses = [s for run in pool.map(client_run, range(6)) for s in run]

    assert statuses.count(200) == limit and statuses.count(429) == len(statuses) - limit


@pytest.mark.parametrize("name", BOTH)
def test_8_uploads_past_the_quota_are_refused_with_retry_after(target):
    bearer = target.access(user(target, "quota"))
    quota = 2  # UPLOAD_QUOTA_USER_PER_HOUR in both processes
    first_seed = 200 + 10 * BOTH.index(target.name)  # the same bytes would be one recording
    with target.api(bearer) as api:
        patient = first_diagnostic(api)["patient"]

    def upload(seed: int):
        with target.api(bearer) as api:
            return api.post(
                "/api/v1/recordings/",
                data={"patient": patient, "kind": "cough"},
                files={"file": ("cough.wav", cough_wav(seed=seed), "audio/wav")},
            )  # fmt: skip

    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(upload, range(first_seed, first_seed + 4)))

    accepted = [r for r in answers if r.status_code in (201, 202)]
    refused = [r for r in answers if r.status_code == 429]
    assert len(accepted) == quota and len(refused) == len(answers) - quota, [
        (r.status_code, r.text[:200]) for r in answers
    ]
    assert all(int(r.headers["Retry-After"]) > 0 for r in refused)
    assert {r.json()["error"]["code"] for r in refused} == {"upload_quota_exceeded"}


# 9. A crafted cursor was a 500.
@pytest.mark.parametrize("name", BOTH)
def test_9_a_crafted_cursor_is_a_400_with_a_plain_sentence(target):
    bearer = target.access(user(target, "cursor"))
    with target.api(bearer) as api:
        response = api.get("/api/v1/diagnostics/?cursor=cD1hYmM=")

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_cursor"
    assert error["message"].endswith(".") and "ErrorDetail" not in error["message"]


# 10. Production mode: a short key and debug were accepted, pages were 500s, /metrics was open.
DEVELOPMENT = (
    "make run is development by design (generated key, /metrics open on loopback); "
    "tests/security/test_production_mode.py covers the production settings"
)


@pytest.mark.parametrize("name", production_only(DEVELOPMENT))
@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [("SECRET_KEY", "short", "SECRET_KEY must be a random value of at least 50 characters"),
     ("DJANGO_DEBUG", "true", "DJANGO_DEBUG must be off when DJANGO_ENV=production")],
)  # fmt: skip
def test_10_a_production_process_refuses_a_short_key_or_debug(
    target, tmp_path, variable, value, message
):
    env = {**production_web_env(stack_env_of(target), tmp_path), variable: value}

    result = subprocess.run(
        production_web_argv(0), cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )

    assert result.returncode != 0
    assert message in result.stdout + result.stderr


def stack_env_of(target: Target) -> dict:
    """What ``production_web_env`` reads of the stack: its data folder and Redis port (never
    reached: the process stops at its settings)."""
    return {"VAR_DIR": str(target.data_dir), "EMBEDDED_REDIS_PORT": "1"}


@pytest.mark.parametrize("name", production_only(DEVELOPMENT))
def test_10_metrics_need_the_bearer_token_and_pages_render(target):
    with target.client() as client:
        anonymous = client.get("/metrics")
        scraper = client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
        page = client.get("/accounts/login/")
        stylesheet = page.text.split('rel="stylesheet" href="')[1].split('"')[0]
        static = client.get(stylesheet)
    with target.client() as plain:
        del plain.headers["X-Forwarded-Proto"]
        over_http = plain.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})

    assert anonymous.status_code == 401
    assert over_http.status_code == 301 and over_http.headers["Location"].startswith("https://")
    assert scraper.status_code == 200 and "django_http_requests" in scraper.text
    assert page.status_code == 200 and stylesheet.startswith("/static/")
    assert static.status_code == 200


# 11. TOTP enrolment needed only the password.
@pytest.mark.parametrize("name", BOTH)
def test_11_a_password_alone_enrols_no_authenticator(target):
    username = user(target, "newstaff")
    with target.client("127.0.11.1") as browser:
        target.sign_in(browser, username, with_code=False)
        enrolment = browser.get("/accounts/two-factor/")
        admin = browser.get("/admin/")

    assert "Enter this key" not in enrolment.text
    assert admin.status_code == 302 and "/login/" in admin.headers["Location"]
    with target.database() as db:
        (devices,) = db.execute(
            "SELECT count(*) FROM otp_totp_totpdevice d JOIN auth_user u ON u.id = d.user_id "
            "WHERE u.username = ?", (username,),
        ).fetchone()  # fmt: skip
    assert devices == 0


# 12. Recordings were plain files, 0644, under the name given.
@pytest.mark.parametrize("name", BOTH)
def test_12_a_stored_recording_is_encrypted_private_and_nameless(target):
    bearer = target.access(user(target, "upload"))
    audio = cough_wav(seed=120 + BOTH.index(target.name))
    with target.api(bearer) as api:
        patient = first_diagnostic(api)["patient"]
        uploaded = api.post(
            "/api/v1/recordings/", data={"patient": patient, "kind": "cough"},
            files={"file": ("Jane Doe 1961-04-23 cough.wav", audio, "audio/wav")},
        )  # fmt: skip

    assert uploaded.status_code in (201, 202), uploaded.text
    assert "Jane" not in uploaded.text
    with target.database() as db:
        key, name = db.execute(
            "SELECT storage_key, original_name FROM media_assets_recording WHERE id = ?",
            (uploaded.json()["id"],),
        ).fetchone()
    stored = target.data_dir / "media" / key
    on_disk = stored.read_bytes()
    assert not on_disk.startswith(b"RIFF") and audio[1000:1064] not in on_disk
    assert oct(stored.stat().st_mode & 0o777) == "0o600"
    assert name == ".wav" and "Jane" not in key
