"""What starting a process costs: a fresh database's ``migrate``, a management command (``check``),
and a web worker's start (the settings, every route and the template engine, as before its first
answer). Each is its own process, timed from outside, on the embedded default's settings.

Usage (no services needed; the database is a new SQLite file each time):

    .venv/bin/python bench/startup.py [--runs 5] [--baseline REV]

``--baseline REV`` measures that revision too, in a temporary git worktree, alternating with
this checkout run by run (the same interpreter and packages), and prints the ratio of the
medians. Run it on a quiet machine.
"""

import argparse
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.harness import ROOT, machine, percentile

WEB_WORKER_START = """
import django
from django.template import engines
from django.urls import get_resolver

django.setup()
get_resolver().url_patterns  # every route, with the views they import
engines["django"].engine  # the template engine, with every app's tag libraries
"""

STEPS = {
    "migrate (new SQLite database)": ["manage.py", "migrate", "--noinput", "-v0"],
    "manage.py check": ["manage.py", "check"],
    "web worker start": ["-c", WEB_WORKER_START],
}


def timed(tree: Path, argv: list[str], scratch: Path) -> float:
    database = scratch / "db.sqlite3"
    database.unlink(missing_ok=True)
    env = {key: value for key, value in os.environ.items()
           if key not in ("DATABASE_URL", "REDIS_URL", "DJANGO_ENV", "STORAGE_BACKEND")}  # fmt: skip
    env.update(
        DATABASE_URL=f"sqlite:///{database}", VAR_DIR=str(scratch),
        REDIS_URL="redis://127.0.0.1:1/0",  # nothing here connects to it
        DJANGO_SETTINGS_MODULE="portal.settings", LOG_LEVEL="WARNING",
    )  # fmt: skip
    started = time.perf_counter()
    subprocess.run([sys.executable, *argv], cwd=tree, env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    return time.perf_counter() - started


@contextlib.contextmanager
def worktree(revision: str):
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as folder:
        path = Path(folder) / "tree"
        subprocess.run(["git", "worktree", "add", "--detach", "-q", str(path), revision],
                       cwd=ROOT, check=True)  # fmt: skip
        try:
            yield path
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(path)], cwd=ROOT,
                           check=False)  # fmt: skip


def seconds(values: list[float]) -> str:
    return f"median {statistics.median(values):6.2f} s  p95 {percentile(values, 95):6.2f} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--baseline", metavar="REV", help="a revision to measure alongside")
    args = parser.parse_args()

    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, check=True,
                          capture_output=True, text=True).stdout.strip()  # fmt: skip
    print(f"Machine: {machine()}; this checkout at {head}; {args.runs} runs each")
    with contextlib.ExitStack() as stack:
        trees = {"this checkout": ROOT}
        if args.baseline:
            trees = {f"baseline {args.baseline}": stack.enter_context(worktree(args.baseline)),
                     **trees}  # fmt: skip
        scratch = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-var-")))
        results = {(name, step): [] for name in trees for step in STEPS}
        for _ in range(args.runs):
            for step, argv in STEPS.items():
                for name, tree in trees.items():  # alternately, so drift hits both alike
                    results[name, step].append(timed(tree, argv, scratch))
    for step in STEPS:
        print(f"\n{step}")
        for name in trees:
            print(f"  {name:<24} {seconds(results[name, step])}")
        if args.baseline:
            base, new = (statistics.median(results[name, step]) for name in trees)
            print(f"  ratio (this / baseline)  {new / base:.2f}")


if __name__ == "__main__":
    main()
