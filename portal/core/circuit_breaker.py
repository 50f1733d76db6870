"""A circuit breaker: stop calling a dependency that keeps failing, and try it again with care.

- **closed**: calls go through. ``failures`` failures in a row (no success between them), all
  within ``window_s`` of each other, open the breaker.
- **open**: every call is refused at once (``CircuitOpen``, carrying the seconds left of the
  cool-down) for ``cooldown_s``, instead of each one waiting for the dependency's timeouts.
- **half-open**: once the cool-down is over, one call (the probe) goes through while the others
  are still refused. The probe's success closes the breaker; its failure opens it for another
  cool-down. A probe that has not finished within a cool-down counts as failed, so a hung call
  cannot hold the breaker half-open for ever.

A breaker is shared by the threads of a process (a lock guards its state); each process keeps its
own. The clock is an argument, so the state machine is tested with a fake one. A call that fails
with an exception that is not the dependency's (a bug) neither opens nor closes the breaker.
"""

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum

from django.conf import settings


class State(StrEnum):
    CLOSED = "closed"
    HALF_OPEN = "half_open"
    OPEN = "open"


# The value of a state gauge: 0 healthy, 2 refusing everything, 1 in between.
STATE_VALUES = {State.CLOSED: 0, State.HALF_OPEN: 1, State.OPEN: 2}


class CircuitOpen(Exception):
    """The breaker refused the call; try again after ``retry_after_s`` seconds."""

    def __init__(self, retry_after_s: int) -> None:
        self.retry_after_s = retry_after_s
        super().__init__(f"circuit open; retry after {retry_after_s} s")


@dataclass(frozen=True)
class Limits:
    failures: int  # failures in a row that open the breaker
    window_s: float  # ... when they all happened within this many seconds
    cooldown_s: float  # how long an open breaker refuses calls before it lets a probe through


class SettingsLimits:
    """``Limits`` that follow the settings: each one a setting's name, read at every decision
    (tests and operators may change them), or a fixed number."""

    def __init__(self, *, failures: str | int, window_s: str | float, cooldown_s: str | float):
        self._sources = {"failures": failures, "window_s": window_s, "cooldown_s": cooldown_s}

    def _read(self, limit: str):
        source = self._sources[limit]
        return getattr(settings, source) if isinstance(source, str) else source

    failures = property(lambda self: self._read("failures"))
    window_s = property(lambda self: self._read("window_s"))
    cooldown_s = property(lambda self: self._read("cooldown_s"))


def exported(state_gauge, opened_counter) -> Callable[[State], None]:
    """An ``on_change`` that sets a state gauge (``STATE_VALUES``) and counts each opening."""

    def changed(state: State) -> None:
        state_gauge.set(STATE_VALUES[state])
        if state == State.OPEN:
            opened_counter.inc()

    return changed


@dataclass(frozen=True)
class Snapshot:
    state: State
    failures: int  # failures in a row counted towards opening (closed), else 0
    retry_after_s: int | None  # while calls are refused: when to try again


class CircuitBreaker:
    """See the module's docstring. ``limits`` is read at each decision (``SettingsLimits``
    follows the settings); ``on_change(state)`` is called after every transition (``exported``
    keeps the metrics) and ``on_reject()`` for every refused call, both outside the lock."""

    def __init__(
        self,
        *,
        limits: Limits,
        clock: Callable[[], float] = time.monotonic,
        on_change: Callable[[State], None] | None = None,
        on_reject: Callable[[], None] | None = None,
    ) -> None:
        self.limits = limits
        self.clock = clock
        self.on_change = on_change or (lambda state: None)
        self.on_reject = on_reject or (lambda: None)
        self._lock = threading.Lock()
        self._state = State.CLOSED
        self._failures: deque[float] = deque()
        self._opened_at = 0.0
        self._probe_started: float | None = None

    # --- Reading ---------------------------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        with self._lock:
            now = self.clock()
            expired = self._expire_probe(now)
            snapshot = Snapshot(self._state, len(self._failures), self._refusal(now))
        self._announce(expired)
        return snapshot

    @property
    def state(self) -> State:
        return self.snapshot().state

    # --- Calling ---------------------------------------------------------------------------------

    def check(self) -> None:
        """Raise ``CircuitOpen`` if a call now would be refused; take no probe (a caller about
        to start work that ends in a call asks first, so that it starts nothing it must undo)."""
        with self._lock:
            now = self.clock()
            expired = self._expire_probe(now)
            retry_after = self._refusal(now)
        self._announce(expired)
        if retry_after is not None:
            self.on_reject()
            raise CircuitOpen(retry_after)

    @contextmanager
    def call(self, failures: tuple[type[BaseException], ...]):
        """Run the block as one call to the dependency: refused with ``CircuitOpen`` while the
        breaker is open, and counted as a failure when it raises one of ``failures``."""
        probe = self._admit()
        try:
            yield
        except failures:
            self._record(succeeded=False, probe=probe)
            raise
        except BaseException:
            if probe:
                self._release_probe()
            raise
        self._record(succeeded=True, probe=probe)

    def reset(self) -> None:
        """Back to closed with nothing counted (tests, and an operator's shell)."""
        with self._lock:
            changed = self._set(State.CLOSED)
        self._announce(changed)

    # --- The state machine (the helpers below _release_probe run under the lock) -----------------

    def _refusal(self, now: float) -> int | None:
        """Seconds until a call may go through, or None when it may go now."""
        if self._state == State.OPEN:
            left = self._opened_at + self.limits.cooldown_s - now
            return math.ceil(left) if left > 0 else None
        if self._state == State.HALF_OPEN and self._probe_started is not None:
            return 1  # a probe is out: its answer decides
        return None

    def _admit(self) -> bool:
        """Let a call through (True when it is the half-open probe) or raise ``CircuitOpen``."""
        with self._lock:
            now = self.clock()
            expired = self._expire_probe(now)
            retry_after = self._refusal(now)
            changed, probe = None, False
            if retry_after is None and self._state != State.CLOSED:
                changed = self._set(State.HALF_OPEN)
                self._probe_started, probe = now, True
        self._announce(expired)
        if retry_after is not None:
            self.on_reject()
            raise CircuitOpen(retry_after)
        self._announce(changed)
        return probe

    def _record(self, *, succeeded: bool, probe: bool) -> None:
        with self._lock:
            now = self.clock()
            if succeeded:
                changed = self._set(State.CLOSED) if self._state != State.CLOSED else None
                self._failures.clear()
            elif probe:
                changed = self._open(now)
            elif self._state == State.CLOSED:
                changed = self._count_failure(now)
            else:  # a call from before the breaker opened: the breaker already knows
                changed = None
        self._announce(changed)

    def _release_probe(self) -> None:
        with self._lock:
            self._probe_started = None  # the next call probes instead

    def _count_failure(self, now: float) -> State | None:
        self._failures.append(now)
        while self._failures and self._failures[0] < now - self.limits.window_s:
            self._failures.popleft()
        if len(self._failures) >= self.limits.failures:
            return self._open(now)
        return None

    def _open(self, now: float) -> State | None:
        self._opened_at = now
        return self._set(State.OPEN)

    def _expire_probe(self, now: float) -> State | None:
        started = self._probe_started
        if (
            self._state == State.HALF_OPEN
            and started is not None
            and now - started >= self.limits.cooldown_s
        ):
            return self._open(now)
        return None

    def _set(self, state: State) -> State | None:
        """Enter ``state``; the state to announce when it changed."""
        self._probe_started = None
        self._failures.clear()
        previous, self._state = self._state, state
        return state if state != previous else None

    def _announce(self, changed: State | None) -> None:
        if changed is not None:
            self.on_change(changed)
