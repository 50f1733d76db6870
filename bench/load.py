"""Load benchmark: clinicians and researchers in Locust against the whole stack (issue 18).

Usage (PostgreSQL and Redis running; the database is created, migrated and seeded if needed and
reused on later runs; the Redis database is flushed, so give the benchmark its own of each):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/portal_bench_load \\
    REDIS_URL=redis://127.0.0.1:6379/11 .venv/bin/python bench/load.py \\
        --artifact var/bench/inference-baseline.zip --users 50 200 500 --seconds 60

It seeds ``--patients`` patients and ``--diagnostics`` diagnostics at two sites
(``portal.seeding``), one clinician account per virtual clinician at the first site and one
researcher account per virtual researcher (at every site), registers the model artifact (trained
first when none is given, as ``bench/inference.py`` does), then starts the stack as ``make run``
does: uvicorn (``--web-workers`` processes), the main Celery worker, the inference worker. Each
process gets the environment of ``bench.harness.UNLIMITED``: the API rate limits and the upload
quotas lifted, since every virtual user comes from 127.0.0.1 and what is measured is the stack.

For each ``--users`` count in turn (the stack stays up; between counts the inference queue is
left to drain) it runs ``bench/locustfile.py`` headless: users spawn at ``--spawn-rate`` a second
and sign in (one clinician in ten on the sign-in page, the others with a session made for them
beforehand: a password check costs over a second of CPU on these cores, by design; researchers
take a JWT token); once all have signed in, a window of ``--seconds`` is measured. It prints, for the
window: p50/p95/p99 and errors per endpoint, results per minute, the upload-to-result p95, the
sign-ins (all in the ramp) apart, each process's RSS every ``--rss-every`` seconds, the cores each
role used (PostgreSQL and Redis included), and the load average before and after. Each count
starts once the machine is quiet (under a quarter busy over 5 s, for at most 5 minutes) and
says how busy it was. The day's uploads stay in the database and make later runs slower;
``--fresh`` drops it and seeds it again, for runs meant to be compared. Targets on 2
cores: 0 errors at 500 users; pages and API p95 < 200 ms at the highest user count that keeps the
upload-to-result p95 under 1.5 s.
"""

import argparse
import contextlib
import json
import os
import shutil
import statistics
import sys
import threading
import time
from pathlib import Path

import psutil
import redis

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.harness import (
    ROOT,
    UNLIMITED,
    cpu_seconds,
    machine,
    percentile,
    require_services,
    server_processes,
    signed_in_session,
    wait_until_quiet,
)
from bench.inference import (
    BENCH_DIR,
    free_port,
    production_model,
    setup_django,
    start,
    stop,
    submit_all,
    wait_until_finished,
)
from bench.ingest import PASSWORD, clip

PLAN_FILE = BENCH_DIR / "load-plan.json"
CLIP_FILE = BENCH_DIR / "load-clip.wav"
RESEARCHER_SHARE = 20  # the locustfile's weights: 19 clinicians to 1 researcher
# Not held to the 200 ms of pages and API calls: a bulk download, the wait for the model, and
# the yardstick (the locustfile's probe).
NOT_PAGES = {"api: research export (csv)", "upload to result", "baseline /healthz"}


def prepare(args) -> None:
    """Migrate, seed if the counts differ, make the accounts and the model, write the plan."""
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password
    from django.core.files.storage import default_storage
    from django.core.management import call_command
    from django.db import connection

    from diagnostics.models import ModelStatus, ModelVersion
    from portal import seeding
    from portal.core.models import Membership, Patient, Role, Site

    call_command("migrate", verbosity=0)
    patients, diagnostics = seeding.seeded_counts()  # earlier runs' uploads add diagnostics
    if patients != args.patients or diagnostics < args.diagnostics:
        print(f"seeding {args.patients:,} patients, {args.diagnostics:,} diagnostics …", flush=True)
        seeding.seed(sites=2, patients=args.patients, diagnostics=args.diagnostics, log=lambda _: 0)
        with connection.cursor() as cursor:  # statistics now, not from autovacuum mid-count
            cursor.execute("VACUUM ANALYZE")
    redis.Redis.from_url(settings.REDIS_URL).flushdb()
    production = ModelVersion.objects.filter(status=ModelStatus.PRODUCTION).first()
    if production is None:
        production_model(args.artifact)
    elif not default_storage.exists(production.artifact):
        # The database keeps storage keys; a database seeded from another clone (its own
        # var/bench) would make every analysis "model_unavailable" and the report 0 results.
        raise SystemExit(
            f"the production model's artifact {production.artifact!r} is not in this clone's "
            f"storage ({settings.MEDIA_ROOT}): the database was seeded elsewhere; run with --fresh"
        )
    sites = list(Site.objects.order_by("id"))
    most = max(args.users)
    # One password hash for every account: hashing thousands of times would take minutes.
    password = make_password(PASSWORD)
    users = get_user_model().objects
    plan = {"password": PASSWORD, "clip": str(CLIP_FILE)}
    for role, count, at in ((Role.CLINICIAN, most, sites[:1]),
                            (Role.RESEARCHER, most // RESEARCHER_SHARE + 1, sites)):  # fmt: skip
        names = [f"load-{role}-{i}" for i in range(count)]
        known = set(users.filter(username__in=names).values_list("username", flat=True))
        users.bulk_create(
            users.model(username=n, password=password) for n in names if n not in known
        )
        Membership.objects.bulk_create(
            (Membership(user=user, site=site, role=role)
             for user in users.filter(username__in=names) for site in at),
            ignore_conflicts=True,
        )  # fmt: skip
        plan[f"{role}s"] = names
    # Most clinicians arrive signed in (mid-shift), each with a session of their own; the
    # locustfile signs one in ``SIGN_IN_EVERY`` in on the sign-in page, as at a shift's start.
    plan["sessions"] = {
        user.username: signed_in_session(user)
        for user in users.filter(username__in=plan["clinicians"])
    }
    plan["session_cookie"] = settings.SESSION_COOKIE_NAME
    patients = Patient.objects.filter(site=sites[0]).values_list("pk", "external_id")[:5000]
    # The seeded names are "Given<n> Family<n>" for the external id BENCH-<n>.
    plan["patients"] = [[pk, f"family{external_id.split('-')[1]}"] for pk, external_id in patients]
    plan["export_path"] = (
        f"/api/v1/research/diagnostics/?format=csv&site={sites[0].code}&kind=cough&label=anomaly"
    )
    CLIP_FILE.write_bytes(clip(1))
    PLAN_FILE.write_text(json.dumps(plan))


def start_stack(env: dict, port: int, web_workers: int) -> dict:
    """The processes ``make run`` starts (without beat: nothing periodic is measured)."""
    from portal.management.commands.runstack import inference_env
    from portal.stack import web_server_argv

    python = sys.executable
    celery = [python, "-m", "celery", "-A", "portal"]
    web = [*web_server_argv(python, host="127.0.0.1", port=port, trusted_proxies=[]),
           "--workers", str(web_workers)]  # fmt: skip
    processes = {}

    def healthy(_log: str) -> bool:
        import httpx

        try:
            return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def ready(log: str) -> bool:
        return " ready." in log

    processes["worker"], _ = start(
        "load-worker",
        [*celery, "worker", "-Q", "default,recommender,maintenance", "-n", "load-main@%h",
         "--concurrency", "2", "--loglevel", "INFO"], {**env, "LOG_LEVEL": "INFO"}, ready,
    )  # fmt: skip
    processes["inference"], _ = start(
        "load-inference",
        [*celery, "worker", "-Q", "inference", "-n", "load-inference@%h", "--concurrency", "1",
         "--prefetch-multiplier", "1", "--loglevel", "INFO"],
        inference_env({**env, "LOG_LEVEL": "INFO", "INFERENCE_METRICS_PORT": str(free_port())}),
        ready,
    )  # fmt: skip
    processes["web"], _ = start("load-web", web, env, healthy)
    warm_up()
    return processes


def warm_up() -> None:
    """One upload analysed and pictured before anything is measured: the inference worker loads
    TensorFlow and the model on its first task, a main worker's process its modules for the
    spectrogram on its first picture."""
    from django.contrib.auth import get_user_model

    from media_assets.models import Recording
    from portal.core.models import Patient

    plan = json.loads(PLAN_FILE.read_text())
    user = get_user_model().objects.get(username=plan["clinicians"][0])
    patient = Patient.objects.get(pk=plan["patients"][0][0])
    # A clip no earlier run uploaded: the same bytes again would answer with the old result.
    (diagnostic_id,) = submit_all(user, patient, [clip(time.time_ns() % 2**32)], keep_messages=True)
    wait_until_finished([diagnostic_id], timeout=180)
    # and a main worker's process has drawn its picture
    pictured = Recording.objects.filter(diagnostics=diagnostic_id).exclude(spectrogram_key="")
    deadline = time.monotonic() + 120
    while not pictured.exists() and time.monotonic() < deadline:
        time.sleep(0.5)


class RssOverTime:
    """Each process's resident memory (the stack's trees and Locust) every ``every`` seconds, and
    the CPU each role used meanwhile, PostgreSQL's and Redis's servers included: the share of the
    two cores each took is what says whether a page is slow of its own or waits for a core."""

    SERVERS = {"postgres": "postgres", "redis": "redis-server"}

    def __init__(self, roots: dict, every: float) -> None:
        self.roots, self.every = roots, every
        self.rows: list[tuple[float, dict[str, float]]] = []
        self.cpu: list[tuple[float, dict[str, float]]] = []  # (monotonic, role -> CPU seconds)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _trees(self):
        for role, pid in self.roots.items():
            try:
                root = psutil.Process(pid)
                tree = [root, *root.children(recursive=True)]
            except psutil.NoSuchProcess:
                continue
            yield role, tree
        for role, name in self.SERVERS.items():
            yield role, server_processes(name)

    def sample(self) -> dict[str, float]:
        sizes, cpu = {}, {}
        for role, tree in self._trees():
            if tree:
                cpu[role] = cpu_seconds(tree)
            if role in self.SERVERS:
                continue
            for i, proc in enumerate(tree):
                with contextlib.suppress(psutil.NoSuchProcess):
                    sizes[f"{role}.{i}" if i else role] = proc.memory_info().rss / 2**20
        self.cpu.append((time.monotonic(), cpu))
        return sizes

    def _run(self) -> None:
        started = next_row = time.monotonic()
        while not self._stop.is_set():
            sizes = self.sample()  # every second: the CPU readings end close to Locust's end
            if time.monotonic() >= next_row:
                self.rows.append((time.monotonic() - started, sizes))
                next_row += self.every
            self._stop.wait(1)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.sample()  # the last CPU reading, at the end

    def print(self) -> None:
        names = sorted({name for _, sizes in self.rows for name in sizes})
        print("    RSS (MB) over time: " + " ".join(f"{n:>10}" for n in ["t (s)", *names]))
        for seconds, sizes in self.rows:
            cells = [f"{seconds:10.0f}", *(f"{sizes.get(n, 0):10.0f}" for n in names)]
            print("                        " + " ".join(cells))
        if len(self.cpu) < 2:
            return
        (start, first), (end, _) = self.cpu[0], self.cpu[-1]
        # Each role's last reading: Locust may have quit before the final one.
        used = {role: max(cpu[role] for _, cpu in self.cpu if role in cpu) - first.get(role, 0.0)
                for role in {role for _, cpu in self.cpu for role in cpu}}  # fmt: skip
        cells = ", ".join(f"{role} {seconds / (end - start):.2f}"
                          for role, seconds in sorted(used.items(), key=lambda kv: -kv[1]))  # fmt: skip
        print(
            f"    cores used over the {end - start:.0f} s (ramp and window): {cells};"
            f" together {sum(used.values()) / (end - start):.2f} of {os.cpu_count()}"
        )


def run_locust(env: dict, base: str, users: int, args) -> tuple[dict, RssOverTime]:
    results = BENCH_DIR / f"load-{users}.json"
    results.unlink(missing_ok=True)
    ramp = users / args.spawn_rate
    # A cap only: the locustfile ends the run once its window has lasted --seconds.
    cap = int(ramp + args.seconds + 300)
    argv = [sys.executable, "-m", "locust", "-f", str(ROOT / "bench" / "locustfile.py"),
            "--headless", "--host", base, "--users", str(users),
            "--spawn-rate", str(args.spawn_rate), "--run-time", f"{cap}s",
            "--only-summary", "--loglevel", "WARNING"]  # fmt: skip
    locust_env = {**env, "LOAD_PLAN": str(PLAN_FILE), "LOAD_USERS": str(users),
                  "LOAD_MEASURE_S": str(args.seconds), "LOAD_THINK_S": str(args.think),
                  "LOAD_RESULTS": str(results)}  # fmt: skip
    log = BENCH_DIR / f"load-locust-{users}.log"
    with log.open("wb") as handle:
        import subprocess

        locust = subprocess.Popen(argv, cwd=ROOT, env=locust_env, stdout=handle,
                                  stderr=subprocess.STDOUT)  # fmt: skip
        rss = RssOverTime({**args.stack_pids, "locust": locust.pid}, args.rss_every)
        try:
            with rss:
                # The locustfile writes the results when its window closes; Locust itself may
                # take until ``--run-time`` to quit after that, so it gets a few seconds only.
                while locust.poll() is None and not results.exists():
                    time.sleep(0.5)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    locust.wait(timeout=10)
        finally:
            stop(locust)
    if not results.exists():
        raise RuntimeError(f"Locust wrote no results; see {log}")
    return json.loads(results.read_text()), rss


def report(users: int, data: dict) -> None:
    window = (data["window_end"] - data["window_start"]) if data["window_start"] else 0
    sign_ins = data["sign_in_ms"]  # all in the ramp
    print(f"\n{users} users: {data['signed_in']} signed in; measured window {window:.0f} s")
    if sign_ins:
        print(f"    sign-ins (in the ramp, before the window):"
              f" n={len(sign_ins)} p50 {statistics.median(sign_ins):.0f} ms"
              f" p95 {percentile(sign_ins, 95):.0f} ms errors {len(data['sign_in_errors'])}")  # fmt: skip
    if not window:
        print("    the window never opened: not every user signed in")
        return
    names = sorted(set(data["times_ms"]) | set(data["errors"]))
    print(f"    {'endpoint':<28}{'n':>6}{'/s':>7}{'p50':>9}{'p95':>9}{'p99':>9}{'errors':>8}")
    worst = (0.0, "")
    for name in names:
        ms, errors = data["times_ms"].get(name, []), data["errors"].get(name, [])
        if ms:
            p95 = percentile(ms, 95)
            if name not in NOT_PAGES:
                worst = max(worst, (p95, name))
            print(f"    {name:<28}{len(ms):>6}{len(ms) / window:>7.1f}{statistics.median(ms):>9.0f}"
                  f"{p95:>9.0f}{percentile(ms, 99):>9.0f}{len(errors):>8}")  # fmt: skip
        else:
            print(f"    {name:<28}{0:>6}{'':>7}{'':>9}{'':>9}{'':>9}{len(errors):>8}")
    errors = sum(len(e) for e in data["errors"].values())
    results = data["times_ms"].get("upload to result", [])
    to_result = percentile(results, 95) if results else float("nan")
    requests = sum(len(ms) for ms in data["times_ms"].values())
    print(f"    requests {requests / window:.1f}/s; results {len(results) / window * 60:.0f} a minute;"
          f" upload to result p95 {to_result:.0f} ms (target < 1500); errors {errors} (target 0);"
          f" slowest page or API p95 {worst[0]:.0f} ms, {worst[1]} (target < 200)")  # fmt: skip
    verdict = errors == 0 and to_result < 1500 and worst[0] < 200
    print(f"    targets {'hold' if verdict else 'missed'} at {users} users")
    for name, messages in data["errors"].items():
        for message in sorted(set(messages))[:2]:
            print(f"      {name}: {message}")


def drain(timeout: float) -> None:
    """Wait until the inference queue has no diagnostic left waiting or running."""
    from diagnostics.models import Diagnostic, DiagnosticStatus

    waiting = Diagnostic.objects.filter(status__in=[DiagnosticStatus.QUEUED,
                                                    DiagnosticStatus.RUNNING])  # fmt: skip
    deadline = time.monotonic() + timeout
    while waiting.exists() and time.monotonic() < deadline:
        time.sleep(1)


def vacuum_unless_autovacuum() -> str:
    """``VACUUM ANALYZE`` before a count where the server's autovacuum is off (as on some
    development machines): every upload rewrites its diagnostic's row three times and every
    session renewal its session's, so without it each run leaves dead rows that slow the next
    (PostgreSQL's CPU per clinician visit rose from 49 to 81-107 ms over an hour of runs)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW autovacuum")
        if cursor.fetchone()[0] == "on":
            return "autovacuum on"
        started = time.monotonic()
        cursor.execute("VACUUM ANALYZE")
    return f"autovacuum off: VACUUM ANALYZE took {time.monotonic() - started:.0f} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, nargs="+", default=[50, 200, 500])
    parser.add_argument("--seconds", type=float, default=60, help="the measured window per count")
    parser.add_argument("--spawn-rate", type=float, default=5, help="users started a second")
    parser.add_argument("--think", type=float, default=5, help="mean pause between actions (s)")
    parser.add_argument("--web-workers", type=int, default=2, help="uvicorn processes")
    parser.add_argument("--patients", type=int, default=20_000)
    parser.add_argument("--diagnostics", type=int, default=100_000)
    parser.add_argument("--rss-every", type=float, default=15)
    parser.add_argument("--artifact", type=Path, help="a model artifact; default: train one")
    parser.add_argument(
        "--fresh", action="store_true",
        help="drop the database and seed it again: every upload of a run stays in it, and runs"
             " meant to be compared must start from the same rows",
    )  # fmt: skip
    args = parser.parse_args()
    require_services(fresh=args.fresh)
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, **UNLIMITED, "MEDIA_ROOT": str(BENCH_DIR / "load-media"),
           "LOG_LEVEL": "WARNING", "MODEL_CACHE_DIR": str(BENCH_DIR / "model-cache"),
           "TF_CPP_MIN_LOG_LEVEL": "2"}  # fmt: skip
    if args.fresh:  # the files of the dropped database's recordings
        shutil.rmtree(env["MEDIA_ROOT"], ignore_errors=True)
    setup_django(env)
    prepare(args)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    threshold = env.get("DATABASE_PREPARE_THRESHOLD") or "0"
    print(f"machine: {machine()}; stack: uvicorn --workers {args.web_workers}, main worker"
          f" (concurrency 2), inference worker (concurrency 1); prepared statements"
          f" {'after ' + threshold + ' runs' if int(threshold) else 'off'}; think {args.think} s;"
          f" spawn {args.spawn_rate}/s; window {args.seconds:.0f} s", flush=True)  # fmt: skip
    processes = start_stack(env, port, args.web_workers)
    args.stack_pids = {name: p.pid for name, p in processes.items()}
    try:
        for users in args.users:
            drain(timeout=300)
            vacuum = vacuum_unless_autovacuum()
            busy = wait_until_quiet()
            before = os.getloadavg()
            print(f"\n{time.strftime('%H:%M:%S', time.gmtime())} UTC: {users} users,"
                  f" load average {before[0]:.1f} {before[1]:.1f}, CPUs {busy:.0f}% busy;"
                  f" {vacuum}", flush=True)  # fmt: skip
            data, rss = run_locust(env, base, users, args)
            report(users, data)
            rss.print()
            after = os.getloadavg()
            print(f"    load average after: {after[0]:.1f} {after[1]:.1f}", flush=True)
    finally:
        for process in processes.values():
            stop(process)


if __name__ == "__main__":
    main()
