"""A circuit breaker for session-context reads, so a dead store costs one keystroke, not all.

Session context is a bonus (DESIGN.md): when the store fails, completions go on without it.
Without a breaker every keystroke would still wait for the store to fail (a refused connection
is quick, a hung Redis costs the whole read timeout). After a failure the breaker is *open*:
`allow` says no for `retry_after_s`, and those keystrokes skip the store. Then it lets exactly
one caller probe (*half-open*); that caller's `success` closes it, its `failure` opens it again.
Recovery needs no restart: the first good answer closes the breaker.

Pure: the clock is injected. Every `allow() -> True` must be followed by `success()`,
`failure()` or (for a call abandoned without an answer) `abandon()`, or the half-open probe is
never released.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable

Clock = Callable[[], float]


class BreakerState(enum.Enum):
    CLOSED = "closed"  # the store works: everyone calls it
    OPEN = "open"  # the store failed recently: nobody calls it until the cool-down ends
    PROBING = "probing"  # one caller is testing the store; the others still skip it


class Breaker:
    def __init__(self, retry_after_s: float, clock: Clock = time.monotonic) -> None:
        if retry_after_s <= 0:
            raise ValueError(f"retry_after_s must be > 0, got {retry_after_s}")
        self.retry_after_s = retry_after_s
        self._clock = clock
        self.state = BreakerState.CLOSED
        self._open_until = 0.0

    def allow(self) -> bool:
        """May the caller use the store now? True at most once per cool-down while failing."""
        if self.state is BreakerState.CLOSED:
            return True
        if self.state is BreakerState.OPEN and self._clock() >= self._open_until:
            self.state = BreakerState.PROBING
            return True
        return False

    def success(self) -> None:
        self.state = BreakerState.CLOSED

    def failure(self) -> None:
        self.state = BreakerState.OPEN
        self._open_until = self._clock() + self.retry_after_s

    def abandon(self) -> None:
        """The call ended without an answer (cancelled): the next caller may probe at once."""
        if self.state is BreakerState.PROBING:
            self.state = BreakerState.OPEN
            self._open_until = self._clock()
