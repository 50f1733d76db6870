"""A Celery worker yields the cores to the web server: it lowers its CPU priority at start, and its
pool's processes inherit it (issue 18: on the two cores of ``make run``, a spectrogram or an
analysis running beside the pages took their p95 past 200 ms at 100 users)."""

import os

import psutil
import pytest

from tests.processes import celery_worker

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize(
    ("setting", "expected"),
    [(None, max(10, os.nice(0))), ("0", os.nice(0)), ("4", max(4, os.nice(0)))],
    ids=["default", "off", "set"],
)
def test_worker_and_its_pool_run_at_the_configured_niceness(
    process_env, tmp_path, setting, expected
):
    env = {**process_env}
    env.pop("WORKER_NICENESS", None)
    if setting is not None:
        env["WORKER_NICENESS"] = setting
    worker = celery_worker(env, tmp_path, queues="maintenance", name=f"nice-{setting}")
    try:
        main = psutil.Process(worker.proc.pid)
        pool = main.children()
        print(f"WORKER_NICENESS={setting}: worker {main.nice()}, pool {[p.nice() for p in pool]}")
        assert pool, "the prefork pool has a process"
        assert [main.nice(), *(p.nice() for p in pool)] == [expected] * (1 + len(pool))
    finally:
        worker.stop()
    assert psutil.Process().nice() == os.nice(0)  # the test's own process is untouched
