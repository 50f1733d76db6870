"""Clinician pages at scale: 100,000 patients and 1,000,000 diagnostics in PostgreSQL.

Usage (PostgreSQL and Redis running; the database is created, migrated and seeded if needed by
``manage.py seed_bench``, and reused on later runs):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/portal_bench_pages \\
    REDIS_URL=redis://127.0.0.1:6379/7 .venv/bin/python bench/pages.py [--requests 200]

A clinician of one of the four sites (25,000 patients, 250,000 diagnostics, about 190,000 of them
waiting for review) asks, over HTTP, a uvicorn server on the same machine for: the patient list,
a search (a stored search for a family-name prefix, as the search form leaves it), a patient page
(a different patient each time) and the review queue (priority order); ``--requests`` each,
interleaved. Against that, in the same run, the baseline: ``/healthz``, the same server's answer
without a database query or a template, so ratios show what the page itself costs.
Prints p50/p95/p99 per page and the p95 ratio to the baseline. Target: p95 under 80 ms each.
The number of queries per page is asserted in tests (tests/portal/test_pages_query_counts.py).
"""

import argparse
import os
import random
import statistics
import sys
import time

import httpx

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.harness import (
    machine,
    percentile,
    require_services,
    signed_in_session,
    start_server,
)

PORT = 8934
SITES, PATIENTS, DIAGNOSTICS = 4, 100_000, 1_000_000


def prepare(patients: int, diagnostics: int):
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    django.setup()
    from django.core.management import call_command

    from portal import seeding

    call_command("migrate", verbosity=0)
    if seeding.seeded_counts() != (patients, diagnostics):
        print(f"seeding {patients:,} patients and {diagnostics:,} diagnostics …", flush=True)
        seconds = seeding.seed(sites=SITES, patients=patients, diagnostics=diagnostics)
        print(f"seeded in {seconds:.0f} s", flush=True)
    return session_cookie()


def session_cookie() -> str:
    """A signed-in session for a clinician of the first site, as the sign-in form would make."""
    from django.contrib.auth import get_user_model

    from portal.core.models import Membership, Role, Site

    user, _ = get_user_model().objects.get_or_create(username="bench-clinician")
    site = Site.objects.order_by("id").first()
    Membership.objects.get_or_create(user=user, site=site, defaults={"role": Role.CLINICIAN})
    return signed_in_session(user)


def patient_ids() -> list[int]:
    from portal.core.models import Patient, Site

    site = Site.objects.order_by("id").first()
    return list(Patient.objects.filter(site=site).values_list("pk", flat=True)[:5000])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--patients", type=int, default=PATIENTS)
    parser.add_argument("--diagnostics", type=int, default=DIAGNOSTICS)
    args = parser.parse_args()
    require_services()
    session_key = prepare(args.patients, args.diagnostics)
    patients = patient_ids()
    print(machine(), f"load average {os.getloadavg()[0]:.1f}", flush=True)

    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "portal.settings"}
    server = start_server(PORT, env)
    base = f"http://127.0.0.1:{PORT}"
    try:
        with httpx.Client(base_url=base, cookies={"sessionid": session_key}, timeout=30) as client:
            client.get("/patients/")  # the search form sets the CSRF cookie
            csrf = client.cookies.get("csrftoken")
            searched = client.post("/patients/", data={"q": "family12", "csrfmiddlewaretoken": csrf},
                                   headers={"Referer": base + "/patients/"})  # fmt: skip
            search_url = searched.headers["location"]
            pages = {
                "baseline /healthz": lambda: "/healthz",
                "patient list": lambda: "/patients/",
                "search": lambda: search_url,
                "patient page": lambda: f"/patients/{random.choice(patients)}/",
                "review queue": lambda: "/review/",
                "review, oldest first": lambda: "/review/?order=oldest",
            }
            for url in (f() for f in pages.values()):  # warm: templates, connections
                assert client.get(url).status_code == 200, url
            times = {name: [] for name in pages}
            random.seed(7)
            for _ in range(args.requests):
                for name, url in pages.items():
                    started = time.perf_counter()
                    response = client.get(url())
                    times[name].append(time.perf_counter() - started)
                    assert response.status_code == 200, (name, response.status_code)
    finally:
        server.terminate()
        server.wait()

    baseline = percentile(times["baseline /healthz"], 95)
    print(f"\n{'page':<20}{'p50':>10}{'p95':>10}{'p99':>10}{'p95 / baseline':>18}")
    for name, seconds in times.items():
        ms = [s * 1000 for s in seconds]
        p95 = percentile(ms, 95)
        print(f"{name:<20}{statistics.median(ms):>8.1f}ms{p95:>8.1f}ms{percentile(ms, 99):>8.1f}ms"
              f"{p95 / (baseline * 1000):>17.1f}x")  # fmt: skip
    print(f"\n{args.requests} requests per page, load average {os.getloadavg()[0]:.1f} at the end."
          " Target: p95 under 80 ms for every page.")  # fmt: skip


if __name__ == "__main__":
    main()
