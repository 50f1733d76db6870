"""Research export benchmark: 1,000,000 diagnostics in PostgreSQL, exported as CSV and Parquet
through the running ASGI server, against, in the same run:

(a) the floor: PostgreSQL's own ``COPY (SELECT …) TO STDOUT`` of the very same statement the
    export streams (read by a client in this process; no application server in between);
(b) a plain DRF list view with page-number pagination (``bench.export_baseline``: ModelSerializer,
    page size 1000), walked page by page. Walking all 1000 pages costs tens of minutes (each page
    counts every row and skips OFFSET rows), so an evenly spaced sample of pages is timed and the
    walk extrapolated from their mean: the figure printed says so.

Usage (PostgreSQL and Redis running; the database is created, migrated and seeded if needed):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/portal_bench_export \\
    REDIS_URL=redis://127.0.0.1:6379/9 .venv/bin/python bench/export.py [--rows 1000000]

Seeding is one server-side ``INSERT … SELECT`` from ``generate_series`` per table (nothing crosses
the wire; about a minute for a million rows) and is skipped when the database already holds the
rows. The first export makes the million pseudonyms and is timed on its own. COPY, CSV and
Parquet run in turn ``--repeat`` times (the machine is shared: the ratios use the best of each);
the CSV export is also timed through the cursor path that SQLite uses
(``RESEARCH_EXPORT_COPY=false``, a second server). For each method it
prints rows/s, total seconds and the peak RSS of the server process (for COPY, of this client).
Targets: CSV at least 30 % of COPY's rate and 10 times the plain DRF walk; peak RSS under 300 MB.
"""

import argparse
import os
import statistics
import sys
import tempfile
import time

import httpx

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.harness import RssSampler, machine, require_services, start_server

PORT = 8932
PASSWORD = "bench-password-123"
SITES = 4
PATIENTS = 50_000
PAGE_SAMPLES = 12


def prepare_database(rows: int) -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    django.setup()
    from django.core.management import call_command

    from portal import seeding

    call_command("migrate", verbosity=0)
    if seeding.seeded_counts() == (PATIENTS, rows):
        return
    print(f"seeding {rows:,} diagnostics …", flush=True)
    seconds = seeding.seed(sites=SITES, patients=PATIENTS, diagnostics=rows)
    print(f"seeded in {seconds:.0f} s", flush=True)


def researcher():
    from django.contrib.auth import get_user_model

    from portal.core.models import Membership, Role, Site

    user, _ = get_user_model().objects.get_or_create(username="bench-researcher")
    user.set_password(PASSWORD)
    user.save()
    for site in Site.objects.all():
        Membership.objects.get_or_create(user=user, site=site, role=Role.RESEARCHER)
    return user


def export_statement(user) -> tuple[str, tuple, int]:
    """The exact COPY statement the export streams, and how many rows it selects."""
    from portal.research.rows import research_rows, safe_harbor_columns
    from portal.research.selectors import SAFE_HARBOR, research_diagnostics
    from portal.research.sources import copy_statement

    diagnostics = research_diagnostics(user, SAFE_HARBOR)
    columns = safe_harbor_columns()
    statement, params = copy_statement(research_rows(diagnostics, columns), columns)
    return statement, params, diagnostics.count()


def copy_floor(statement: str, params) -> tuple[float, int]:
    from django.db import connection

    started = time.perf_counter()
    size = 0
    with connection.cursor() as cursor, cursor.cursor.copy(statement, params) as copy:
        for data in copy:
            size += len(data)
    return time.perf_counter() - started, size


def stream(url: str, token: str, sink=None) -> tuple[float, int]:
    started = time.perf_counter()
    size = 0
    with httpx.stream("GET", url, headers={"Authorization": f"Bearer {token}"},
                      timeout=600) as response:  # fmt: skip
        response.raise_for_status()
        for chunk in response.iter_raw(1024 * 1024):
            size += len(chunk)
            if sink is not None:
                sink.write(chunk)
    return time.perf_counter() - started, size


def plain_walk(base: str, token: str, rows: int) -> tuple[float, list[float]]:
    """Mean time of evenly spaced pages of the plain view, times the number of pages."""
    pages = -(-rows // 1000)
    sample = sorted({1 + round(i * (pages - 1) / (PAGE_SAMPLES - 1)) for i in range(PAGE_SAMPLES)})
    timings = []
    with httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=600) as client:
        for page in sample:
            started = time.perf_counter()
            response = client.get(f"{base}/bench/plain-research/", params={"page": page})
            response.raise_for_status()
            timings.append(time.perf_counter() - started)
    return statistics.mean(timings) * pages, timings


def line(name: str, rows: int, seconds: float, rss_mb: float | None, note: str = "") -> None:
    rss = f"{rss_mb:7.1f} MB" if rss_mb is not None else "      n/a"
    print(f"{name:<34} {rows:>9,} rows {seconds:8.1f} s {rows / seconds:>11,.0f} rows/s  "
          f"peak RSS {rss}  {note}")  # fmt: skip


def first_export(export_url: str, token: str, rows: int, server) -> None:
    """Time the export that makes the pseudonyms, if they are not there yet."""
    from media_assets.models import RecordingPseudonym

    if RecordingPseudonym.objects.count() >= rows:
        return
    with RssSampler(server.pid) as rss:
        seconds, _ = stream(f"{export_url}?format=csv", token)
    line("first CSV export (makes pseudonyms)", rows, seconds, rss.peak / 2**20)


def export_against_copy(export_url, token, statement, params, rows, server, repeat: int):
    """COPY, the CSV export and the Parquet export, in turn, ``repeat`` times; the best of each."""
    import pyarrow.parquet as pq

    best = {"copy": float("inf"), "csv": float("inf"), "parquet": float("inf")}
    for _ in range(repeat):
        with RssSampler(os.getpid()) as rss:
            seconds, size = copy_floor(statement, params)
        best["copy"] = min(best["copy"], seconds)
        line("COPY (SELECT …) TO STDOUT (floor)", rows, seconds, rss.peak / 2**20,
             f"{size / 2**20:.0f} MB; RSS of this client")  # fmt: skip
        with RssSampler(server.pid) as rss:
            seconds, size = stream(f"{export_url}?format=csv", token)
        best["csv"] = min(best["csv"], seconds)
        line("research export, CSV", rows, seconds, rss.peak / 2**20, f"{size / 2**20:.0f} MB")
        with tempfile.TemporaryFile() as parquet, RssSampler(server.pid) as rss:
            seconds, size = stream(f"{export_url}?format=parquet", token, parquet)
            parquet.seek(0)
            written = pq.ParquetFile(parquet).metadata.num_rows
        best["parquet"] = min(best["parquet"], seconds)
        line("research export, Parquet", written, seconds, rss.peak / 2**20,
             f"{size / 2**20:.0f} MB")  # fmt: skip
    return best


def cursor_path(env: dict, token: str, rows: int) -> float:
    """The CSV export through the path SQLite takes: a second server with COPY turned off."""
    server = start_server(PORT + 1, {**env, "RESEARCH_EXPORT_COPY": "false"})
    try:
        with RssSampler(server.pid) as rss:
            seconds, _ = stream(
                f"http://127.0.0.1:{PORT + 1}/api/v1/research/diagnostics/?format=csv", token
            )
        line("research export, CSV, cursor path", rows, seconds, rss.peak / 2**20,
             "RESEARCH_EXPORT_COPY=false: Django iterator, csv module")  # fmt: skip
        return seconds
    finally:
        server.terminate()
        server.wait()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=2, help="runs of COPY, CSV and Parquet")
    args = parser.parse_args()
    require_services()
    prepare_database(args.rows)
    user = researcher()
    statement, params, rows = export_statement(user)
    env = {
        **os.environ, "DJANGO_SETTINGS_MODULE": "bench.export_settings", "LOG_LEVEL": "WARNING",
        "API_THROTTLE_USER": "100000/min", "API_THROTTLE_RESEARCH_EXPORT": "100000/hour",
    }  # fmt: skip
    server = start_server(PORT, env)
    base = f"http://127.0.0.1:{PORT}"
    export_url = f"{base}/api/v1/research/diagnostics/"
    try:
        token = httpx.post(
            f"{base}/api/v1/auth/token/", json={"username": user.username, "password": PASSWORD}
        ).json()["access"]
        print(f"machine: {machine()}, shared with other work (load average "
              f"{os.getloadavg()[0]:.1f}); server: uvicorn, 1 process; PostgreSQL on the same "
              f"machine; {rows:,} consented rows of {args.rows:,} diagnostics")  # fmt: skip
        first_export(export_url, token, rows, server)
        best = export_against_copy(export_url, token, statement, params, rows, server, args.repeat)
        cursor_path(env, token, rows)
        with RssSampler(server.pid) as rss:
            walk_s, pages = plain_walk(base, token, rows)
        line("plain DRF list, page by page", rows, walk_s, rss.peak / 2**20,
             f"extrapolated from {len(pages)} evenly spaced pages of 1000: "
             f"{min(pages):.2f}-{max(pages):.2f} s per page")  # fmt: skip
        print(f"best of {args.repeat}: CSV export at {best['copy'] / best['csv']:.0%} of COPY's "
              f"rate (target >= 30 %), {walk_s / best['csv']:.0f}x the plain DRF walk (target "
              f">= 10x); load average now {os.getloadavg()[0]:.1f}")  # fmt: skip
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
