"""A circuit breaker for session-context reads, so a dead or slow store costs one keystroke.

Session context is a bonus, never required: when the store fails, completions go on without it.
Without a breaker every keystroke would still wait for the store to fail (a refused connection
is quick, a hung Redis costs the whole read timeout). After a failure the breaker is *open*:
`allow` says no for `retry_after_s`, and those keystrokes skip the store. Then it lets exactly
one caller probe (*half-open*); that caller's `success` closes it, its `failure` opens it again.
Recovery needs no restart: the first good answer closes the breaker.

A store that answers, but slowly, hurts as much as one that fails: with `slow_s` set, each
success reports its latency, and when the 95th percentile of the last `window` calls is over
`slow_s` (more than one call in twenty was slow) the breaker opens just as on a failure. A
probe must then come back fast to close it. Health checks never report here: a PING that
succeeds says nothing about how long reads take.

Pure: the clock is injected. Every `allow() -> True` must be followed by `success()`,
`failure()` or (for a call abandoned without an answer) `abandon()`, or the half-open probe is
never released.
"""

from __future__ import annotations

import enum
import time
from collections import deque
from collections.abc import Callable

Clock = Callable[[], float]


class BreakerState(enum.Enum):
    CLOSED = "closed"  # the store works: everyone calls it
    OPEN = "open"  # the store failed recently: nobody calls it until the cool-down ends
    PROBING = "probing"  # one caller is testing the store; the others still skip it


class Breaker:
    def __init__(
        self,
        retry_after_s: float,
        clock: Clock = time.monotonic,
        *,
        slow_s: float | None = None,
        window: int = 20,
    ) -> None:
        if retry_after_s <= 0:
            raise ValueError(f"retry_after_s must be > 0, got {retry_after_s}")
        if window < 2:
            raise ValueError(f"window must be >= 2, got {window}")
        self.retry_after_s = retry_after_s
        self.slow_s = slow_s
        self._clock = clock
        self.state = BreakerState.CLOSED
        self._open_until = 0.0
        self._slow: deque[bool] = deque(maxlen=window)
        self._slow_budget = max(1, window // 20)  # slow calls a window may hold: p95
        self.opened_slow = 0  # times the breaker opened on latency, for metrics

    def allow(self) -> bool:
        """May the caller use the store now? True at most once per cool-down while failing."""
        if self.state is BreakerState.CLOSED:
            return True
        if self.state is BreakerState.OPEN and self._clock() >= self._open_until:
            self.state = BreakerState.PROBING
            return True
        return False

    def success(self, latency_s: float | None = None) -> None:
        """The call answered (after `latency_s`, when known): close, unless calls are slow."""
        slow = self.slow_s is not None and latency_s is not None and latency_s > self.slow_s
        if self.state is BreakerState.PROBING and slow:
            self.failure()
            return
        if self.state is not BreakerState.CLOSED:
            self._slow.clear()
        self.state = BreakerState.CLOSED
        self._slow.append(slow)
        if slow and sum(self._slow) > self._slow_budget:
            self.opened_slow += 1
            self._slow.clear()
            self.failure()

    def failure(self) -> None:
        self.state = BreakerState.OPEN
        self._open_until = self._clock() + self.retry_after_s

    def abandon(self) -> None:
        """The call ended without an answer (cancelled): the next caller may probe at once."""
        if self.state is BreakerState.PROBING:
            self.state = BreakerState.OPEN
            self._open_until = self._clock()
