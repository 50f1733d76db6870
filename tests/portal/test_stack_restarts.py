"""``make run``'s supervisor: a child started to be restarted (the embedded Redis) is started again
each time it exits, after a back-off that doubles and is logged; any other child's exit is
reported, so that the stack stops. Real (tiny) processes."""

import io
import sys
import time

from portal.stack import ProcessGroup

EXITS_AT_ONCE = [sys.executable, "-c", "pass"]
RUNS = [sys.executable, "-c", "import time; time.sleep(30)"]


def supervise_for(group: ProcessGroup, seconds: float):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        exited = group.supervise()
        if exited:
            return exited
        time.sleep(0.05)
    return None


def test_a_restartable_child_is_started_again_with_a_doubling_back_off_and_the_others_run_on():
    out = io.StringIO()
    group = ProcessGroup(out=out)
    try:
        group.start("web", RUNS)
        group.start("redis", EXITS_AT_ONCE, restart=True)

        exited = supervise_for(group, 3.6)

        assert exited is None and group.procs["web"].poll() is None
    finally:
        group.stop(grace_s=2)
    lines = out.getvalue().splitlines()
    assert lines[:4] == [
        "redis exited with status 0; restarting it in 1 s.",
        "redis restarted.",
        "redis exited with status 0; restarting it in 2 s.",
        "redis restarted.",
    ]


def test_any_other_childs_exit_is_reported_so_the_stack_stops():
    group = ProcessGroup(out=io.StringIO())
    try:
        group.start("redis", RUNS, restart=True)
        group.start("web", [sys.executable, "-c", "raise SystemExit(3)"])

        exited = supervise_for(group, 10)
    finally:
        group.stop(grace_s=2)

    assert exited == ("web", 3)
