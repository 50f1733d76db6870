"""On the embedded default, the stack's own Redis exits (issue 18.6: ``make run`` answered with
"redis exited with status 0; stopping the stack." and every page and API call was refused).

``manage.py runstack`` (what ``make run`` runs) is started as it is there, with no ``REDIS_URL``;
its Redis is shut down (exit status 0). The supervisor starts it again, says so, and the web
server answers throughout; SIGTERM still stops the whole stack.
"""

import signal
import sys
import time

import httpx
import pytest
import redis

from portal.stack import redis_answers
from tests.diagnostics.inference_steps import wait_for
from tests.faults.outages import Tally, sign_in
from tests.processes import LiveProcess, free_port, http_status

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_when_the_embedded_redis_exits_the_stack_restarts_it_and_keeps_serving(
    clinician, production_model, process_env, tmp_path, request
):
    port, redis_port = free_port(), free_port()
    env = {**process_env, "VAR_DIR": str(tmp_path / "var"), "PORT": str(port),
           "EMBEDDED_REDIS_PORT": str(redis_port), "INFERENCE_METRICS_PORT": str(free_port()),
           "TF_CPP_MIN_LOG_LEVEL": "2"}  # fmt: skip
    env.pop("REDIS_URL")
    redis_url = f"redis://127.0.0.1:{redis_port}/0"
    base = f"http://127.0.0.1:{port}"
    tally = Tally("embedded redis exit")
    stack = LiveProcess(
        "runstack", [sys.executable, "manage.py", "runstack", "--no-demo"], log_dir=tmp_path,
        env=env,
    )  # fmt: skip
    try:
        stack.start(ready=lambda: "The portal is running" in stack.output(), timeout=180)
        http = httpx.Client(base_url=base, timeout=30)
        token = sign_in(http, clinician, tally)
        auth = {"Authorization": f"Bearer {token}"}

        client = redis.Redis.from_url(redis_url)
        client.shutdown(nosave=True)  # Redis exits with status 0
        client.close()
        gone = time.monotonic()
        while redis_answers(redis_url) is False and time.monotonic() - gone < 30:
            tally.record("list", http.get("/api/v1/diagnostics/", headers=auth))
            time.sleep(0.2)
        back_s = time.monotonic() - gone
        for _ in range(3):
            tally.record("list after", http.get("/api/v1/diagnostics/", headers=auth))
        healthy = http_status(f"{base}/healthz")
        still_running = stack.proc.poll() is None
    finally:
        stack.signal_group(signal.SIGTERM)
        stopped = wait_for(lambda: stack.proc.poll() is not None, within=60, what="stack stopped",
                           logs=[stack])  # fmt: skip
        stack.stop()
    output = stack.output()

    tally.report(request, redis_back_s=round(back_s, 1), stopped_s=round(stopped, 1))
    tally.assert_clean()
    assert still_running and healthy == 200, output[-3000:]
    assert redis_answers(redis_url) is False  # stopped with the stack
    assert back_s < 10 and "redis exited with status 0; restarting it" in output
    assert tally.counts["list after 200"] == 3 and tally.counts["list 500"] == 0
    assert "stopping the stack" not in output and "Stopped." in output
