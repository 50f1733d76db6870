"""Searches go on while the index is rebuilt: threads query without pause while rebuilds run and
swap the index under them; no search fails, waits for the build, or returns a case it should not,
and the searches move on to the new builds."""

import threading
import time

import pytest
from django.db import connections

from recommender import indexing
from recommender.live import live_index
from recommender.selectors import similar_cases
from tests.factories import PatientFactory
from tests.recommender.cases import axis_vector, case, many_reviewed, random_unit_vectors

pytestmark = pytest.mark.slow

THREADS = 3


def test_searches_never_fail_or_wait_while_rebuilds_swap_the_index(
    transactional_db, settings, site, other_site, clinician, version
):
    # Approximate (HNSW) so that each build takes a noticeable while.
    settings.RECOMMENDER_EXACT_MAX = 100
    settings.RECOMMENDER_ANN = "hnsw"
    mine = set(many_reviewed(site=site, version=version, vectors=random_unit_vectors(2500, 1)))
    many_reviewed(site=other_site, version=version, vectors=random_unit_vectors(500, 2))
    query = case(patient=PatientFactory(site=site), vector=axis_vector(), version=version)
    first = indexing.rebuild_index(reason="test")

    stop = threading.Event()
    seen: list[tuple[float, float, int | None, list[int]]] = []
    errors: list[BaseException] = []

    def search():
        try:
            while not stop.is_set():
                started = time.monotonic()
                result = similar_cases(diagnostic=query, user=clinician, k=10)
                build = live_index.state().build_id
                seen.append((started, time.monotonic(), build, [c.id for c in result.cases]))
        except BaseException as exc:  # reported below: a thread's failure must fail the test
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=search) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    rebuilds = []
    try:
        for _ in range(3):
            time.sleep(0.3)
            started = time.monotonic()
            build = indexing.rebuild_index(reason="test")
            rebuilds.append((started, time.monotonic(), build.pk))
        time.sleep(0.5)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=60)

    assert not errors, errors
    assert all(len(ids) == 10 and set(ids) <= mine for _, _, _, ids in seen)
    during = [s for s in seen if any(a <= s[0] and s[1] <= b for a, b, _ in rebuilds)]
    assert during, "no search completed while a rebuild ran"
    builds_seen = {build for _, _, build, _ in seen}
    assert first.pk in builds_seen and rebuilds[-1][2] in builds_seen
