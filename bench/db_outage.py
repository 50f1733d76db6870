"""What a process does while PostgreSQL is away, and how soon it connects again once it is back.

Usage (PostgreSQL on this machine; no other service needed):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \\
    .venv/bin/python bench/db_outage.py [--outages 30 70] [--repeats 1]

One process, two database connections made as the settings make them (the pool's sizes and
timeouts, ``DATABASE_POOL_TIMEOUT`` 10 s by default), each reaching PostgreSQL through a relay
(``tests.faults.outages.Link``) that the benchmark cuts (every connection dropped, new ones
refused, as during a restart) for each outage, and restores:

- **baseline**: Django's own PostgreSQL backend, and psycopg_pool's default reconnect timeout
  (300 s): how the portal behaved before the database's circuit breaker and
  ``DATABASE_RECONNECT_TIMEOUT``;
- **portal**: the portal's backend (``portal.core.db.postgresql``: the breaker) with the settings'
  pool options.

Throughout, a request (a connection and ``SELECT 1``) every 0.3 s, as traffic keeps coming. For
each outage it prints how long the requests made while the database was away took to fail (median,
p95, max) and how long after the database's return the first request succeeded. The two are run
alternately, ``--repeats`` times each.
"""

import argparse
import logging
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.db.backends.postgresql.base import DatabaseWrapper as DjangoWrapper  # noqa: E402

from bench.harness import machine  # noqa: E402
from portal.core import database  # noqa: E402
from tests.faults.outages import Link, answers  # noqa: E402

PSYCOPG_DEFAULT_RECONNECT_S = 300.0
REQUEST_EVERY_S = 0.3


def connection_through(link: Link, variant: str, alias: str):
    if variant == "baseline":
        return link.connection(
            alias,
            pool={"reconnect_timeout": PSYCOPG_DEFAULT_RECONNECT_S},
            wrapper_class=DjangoWrapper,
        )
    return link.connection(alias)


def request(wrapper) -> tuple[bool, float]:
    started = time.monotonic()
    return answers(wrapper), time.monotonic() - started


def trial(variant: str, outage_s: float, alias: str) -> dict:
    link = Link.to_database()
    wrapper = connection_through(link, variant, alias)
    database.breaker.reset()
    try:
        ok, _ = request(wrapper)
        assert ok, "no connection before the outage"
        link.cut()
        away_until = time.monotonic() + outage_s
        failed = []
        while time.monotonic() < away_until:
            ok, seconds = request(wrapper)
            failed.append(seconds)
            time.sleep(REQUEST_EVERY_S)
        link.restore()
        back = time.monotonic()
        while not request(wrapper)[0]:
            time.sleep(REQUEST_EVERY_S)
        recovered_s = time.monotonic() - back
    finally:
        link.close()
        wrapper.close_pool()
    failed.sort()
    return {
        "requests": len(failed),
        "median": statistics.median(failed),
        "p95": failed[max(0, round(0.95 * len(failed)) - 1)],
        "max": failed[-1],
        "recovered": recovered_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--outages", type=float, nargs="+", default=[30.0, 70.0])
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    logging.getLogger("psycopg.pool").setLevel(logging.ERROR)
    logging.getLogger("portal.core.database").setLevel(logging.ERROR)
    pool = settings.DATABASES["default"]["OPTIONS"]["pool"]
    print(f"machine: {machine()}")
    print(f"pool: timeout {pool['timeout']} s, reconnect_timeout {pool['reconnect_timeout']} s "
          f"(baseline {PSYCOPG_DEFAULT_RECONNECT_S} s); breaker cool-down "
          f"{settings.DATABASE_BREAKER_COOLDOWN_S} s")  # fmt: skip
    print("outage  variant   requests while away: n, median, p95, max   first success after return")
    n = 0
    for outage_s in args.outages:
        for _ in range(args.repeats):
            for variant in ("baseline", "portal"):
                n += 1
                figures = trial(variant, outage_s, alias=f"bench-{n}")
                print(f"{outage_s:5.0f} s  {variant:8}  {figures['requests']:4d}, "
                      f"{figures['median'] * 1000:7.0f} ms, {figures['p95'] * 1000:7.0f} ms, "
                      f"{figures['max'] * 1000:7.0f} ms   {figures['recovered']:6.1f} s",
                      flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
