"""The circuit breaker's state machine (``portal.core.circuit_breaker``), on a fake clock:
closed → open after failures in a row within the window → half-open after the cool-down, with one
probe → closed on the probe's success, open again on its failure."""

import threading

import pytest

from portal.core.circuit_breaker import CircuitBreaker, CircuitOpen, Limits, State


class Boom(OSError):
    pass


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def events():
    return {"changes": [], "rejected": 0}


@pytest.fixture
def breaker(clock, events):
    def rejected():
        events["rejected"] += 1

    return CircuitBreaker(
        limits=Limits(failures=3, window_s=10, cooldown_s=5), clock=clock,
        on_change=events["changes"].append, on_reject=rejected,
    )  # fmt: skip


def fail(breaker):
    with pytest.raises(Boom), breaker.call((Boom,)):
        raise Boom


def succeed(breaker):
    with breaker.call((Boom,)):
        pass


def test_failures_in_a_row_within_the_window_open_it(breaker, clock, events):
    fail(breaker)
    clock.advance(4)
    fail(breaker)
    assert breaker.state == State.CLOSED and breaker.snapshot().failures == 2
    clock.advance(4)
    fail(breaker)

    assert breaker.state == State.OPEN
    assert events["changes"] == [State.OPEN]


def test_a_success_between_failures_starts_the_count_again(breaker):
    fail(breaker)
    fail(breaker)
    succeed(breaker)
    fail(breaker)
    fail(breaker)

    assert breaker.state == State.CLOSED
    assert breaker.snapshot().failures == 2


def test_failures_spread_wider_than_the_window_do_not_open_it(breaker, clock):
    for _ in range(6):
        fail(breaker)
        clock.advance(6)  # never three within 10 s

    assert breaker.state == State.CLOSED


def test_an_open_breaker_refuses_at_once_and_says_when_to_come_back(breaker, clock, events):
    for _ in range(3):
        fail(breaker)
    clock.advance(1.5)
    ran = []

    with pytest.raises(CircuitOpen) as refused, breaker.call((Boom,)):
        ran.append(True)

    assert ran == []
    assert refused.value.retry_after_s == 4  # 3.5 s of the cool-down left, rounded up
    assert breaker.snapshot().retry_after_s == 4
    with pytest.raises(CircuitOpen):
        breaker.check()
    assert events["rejected"] == 2


def test_after_the_cool_down_one_probe_goes_through_and_its_success_closes_it(
    breaker, clock, events
):
    for _ in range(3):
        fail(breaker)
    clock.advance(5)
    breaker.check()  # a call may go now: the check takes no probe

    with breaker.call((Boom,)):
        assert breaker.state == State.HALF_OPEN
        with pytest.raises(CircuitOpen) as second:  # only one probe at a time
            succeed(breaker)
        assert second.value.retry_after_s == 1

    assert breaker.state == State.CLOSED
    assert events["changes"] == [State.OPEN, State.HALF_OPEN, State.CLOSED]
    succeed(breaker)
    assert breaker.snapshot().failures == 0


def test_a_failed_probe_opens_it_for_another_cool_down(breaker, clock, events):
    for _ in range(3):
        fail(breaker)
    clock.advance(5)

    fail(breaker)  # the probe

    assert breaker.state == State.OPEN
    assert breaker.snapshot().retry_after_s == 5
    clock.advance(4.9)
    with pytest.raises(CircuitOpen):
        breaker.check()
    assert events["changes"] == [State.OPEN, State.HALF_OPEN, State.OPEN]


def test_a_probe_that_never_answers_counts_as_failed_after_a_cool_down(breaker, clock):
    for _ in range(3):
        fail(breaker)
    clock.advance(5)
    hung = breaker.call((Boom,))
    hung.__enter__()  # the probe's call hangs

    clock.advance(5)
    assert breaker.state == State.OPEN
    clock.advance(5)
    succeed(breaker)  # a new probe

    assert breaker.state == State.CLOSED


def test_a_probe_that_fails_with_a_bug_lets_the_next_call_probe(breaker, clock):
    for _ in range(3):
        fail(breaker)
    clock.advance(5)

    with pytest.raises(KeyError), breaker.call((Boom,)):
        raise KeyError("a bug, not the dependency")

    assert breaker.state == State.HALF_OPEN
    succeed(breaker)
    assert breaker.state == State.CLOSED


def test_a_bug_in_the_closed_state_does_not_count_as_a_failure(breaker):
    for _ in range(5):
        with pytest.raises(KeyError), breaker.call((Boom,)):
            raise KeyError("a bug")

    assert breaker.state == State.CLOSED and breaker.snapshot().failures == 0


def test_threads_share_one_breaker_and_only_one_of_them_probes(breaker, clock):
    for _ in range(3):
        fail(breaker)
    clock.advance(5)
    inside, release = threading.Event(), threading.Event()
    outcomes = []

    def probe():
        with breaker.call((Boom,)):
            inside.set()
            release.wait(5)
        outcomes.append("probed")

    def other():
        try:
            succeed(breaker)
            outcomes.append("went through")
        except CircuitOpen:
            outcomes.append("refused")

    first = threading.Thread(target=probe)
    first.start()
    assert inside.wait(5)
    others = [threading.Thread(target=other) for _ in range(8)]
    for thread in others:
        thread.start()
    for thread in others:
        thread.join(5)
    release.set()
    first.join(5)

    assert outcomes.count("refused") == 8
    assert outcomes.count("probed") == 1
    assert breaker.state == State.CLOSED


def test_reset_closes_it(breaker):
    for _ in range(3):
        fail(breaker)

    breaker.reset()

    assert breaker.state == State.CLOSED
    succeed(breaker)
