"""The database's circuit breaker (``portal.core.database``): while PostgreSQL is away, a process
waits for its pool's timeout once and then refuses new connections at once for the cool-down,
instead of making every request (and every database touch of a page) wait that long; a saturated
pool is not an outage. Real PostgreSQL, a real pool, and a relay (``tests.faults.outages.Link``)
cut as a restart cuts it."""

import time

import pytest
from django.conf import settings
from django.db import OperationalError, connections
from psycopg_pool import PoolTimeout

from portal.core import database
from portal.core.circuit_breaker import State
from portal.core.db.postgresql.base import DatabaseWrapper
from tests.faults.outages import Link, answers

pytestmark = [
    pytest.mark.skipif(settings.DATABASE_VENDOR != "postgresql", reason="PostgreSQL's pool"),
    pytest.mark.django_db,
]

POOL_TIMEOUT_S = 1.0


@pytest.fixture
def wrappers():
    """Database connections of their own (an alias each, so a pool each) through a link, closed
    afterwards."""
    made: list[DatabaseWrapper] = []

    def make(alias: str, link: Link, max_size: int = 2) -> DatabaseWrapper:
        pool = {"min_size": 1, "max_size": max_size, "timeout": POOL_TIMEOUT_S}
        wrapper = link.connection(alias, pool=pool)
        made.append(wrapper)
        return wrapper

    yield make
    for wrapper in made:
        wrapper.close()
    for wrapper in made:
        if wrapper.alias in DatabaseWrapper._connection_pools:
            wrapper.close_pool()


def timed_failure(wrapper: DatabaseWrapper) -> tuple[float, str]:
    started = time.monotonic()
    with pytest.raises(OperationalError) as failure:
        wrapper.ensure_connection()
    return time.monotonic() - started, str(failure.value)


def test_while_the_database_is_away_only_the_first_connection_waits_for_the_pool(
    wrappers, settings
):
    settings.DATABASE_BREAKER_COOLDOWN_S = 2.0
    link = Link.to_database()
    try:
        wrapper = wrappers("breaker-away", link)
        wrapper.ensure_connection()  # the pool holds a live connection
        wrapper.close()
        rejected = database.BREAKER_REJECTED._value.get()

        link.cut()
        first_s, _ = timed_failure(wrapper)
        assert first_s >= POOL_TIMEOUT_S  # it waited for the pool, then tried directly
        assert database.breaker.state == State.OPEN
        refusals = [timed_failure(wrapper) for _ in range(5)]
        assert all(seconds < 0.2 for seconds, _ in refusals), refusals
        assert all("unreachable moments ago" in message for _, message in refusals)
        assert database.BREAKER_REJECTED._value.get() == rejected + 5

        link.restore()
        time.sleep(settings.DATABASE_BREAKER_COOLDOWN_S)
        wrapper.ensure_connection()  # the probe: the database is back
        assert database.breaker.state == State.CLOSED
        with wrapper.cursor() as cursor:
            cursor.execute("SELECT 1")
            assert cursor.fetchone() == (1,)
    finally:
        link.close()


def test_after_a_long_outage_a_process_connects_again_within_seconds(wrappers, settings):
    # The pool's attempts back off (1 s, 2 s, 4 s, 8 s, 16 s …): without a reconnect timeout the
    # first connection came 8.2 and 8.9 s after a 20 s outage (bench/db_outage.py: 45 to 63 s
    # after a 70 s one).
    settings.DATABASE_BREAKER_COOLDOWN_S = 0.5
    link = Link.to_database()
    wrapper = wrappers("breaker-long-outage", link)
    try:
        assert answers(wrapper)
        link.cut()
        away_until = time.monotonic() + 20
        while time.monotonic() < away_until:  # requests keep coming, as they do
            assert not answers(wrapper)
            time.sleep(0.3)
        link.restore()
        back = time.monotonic()
        while not answers(wrapper):
            time.sleep(0.3)
        recovered_s = time.monotonic() - back
        assert recovered_s < 6, recovered_s
    finally:
        link.close()


def test_a_saturated_pool_fails_that_connection_and_opens_nothing(wrappers):
    link = Link.to_database()  # never cut
    try:
        holder = wrappers("breaker-saturated", link, max_size=1)
        holder.ensure_connection()  # the pool's only connection, kept
        waiter = wrappers("breaker-saturated", link, max_size=1)

        seconds, message = timed_failure(waiter)

        assert seconds >= POOL_TIMEOUT_S and "couldn't get a connection" in message
        assert database.breaker.state == State.CLOSED
        holder.close()
        waiter.ensure_connection()  # the connection is back in the pool, and nothing refuses it
    finally:
        link.close()


@pytest.mark.django_db(transaction=True)  # the request's connection is a new one
def test_readyz_fails_at_once_and_shows_the_open_breaker(client, settings):
    settings.DATABASE_BREAKER_COOLDOWN_S = 30.0
    connections["default"].close()
    with pytest.raises(database.DatabaseUnreachable), database.new_connection(lambda: False):
        raise PoolTimeout("couldn't get a connection after 10.00 sec")  # and nothing answers
    try:
        ready = client.get("/readyz")
    finally:
        database.breaker.reset()  # before the test's own clean-up needs the database

    assert ready.status_code == 503 and ready.json()["failing"] == ["database"]
    checks = ready.json()["checks"]["database"]
    assert checks["ok"] is False and checks["breaker"] == "open"
    assert checks["ms"] < 500  # refused, not waiting for the pool's timeout
    assert 1 <= checks["retry_after"] <= 30
