"""Per-connection flood control: a token bucket for frames, and a second one for patience.

A typing user sends ~10 frames a second; a script can send thousands. Each frame costs a token
from a bucket of `burst` tokens refilled at `rate_per_s`. A frame with no token left is not
parsed or served, only answered with a `rate_limited` error, and each such refusal costs a
token from a second bucket of `close_after` tokens refilled over `window_s`. When that one is
empty too, the client is not slowing down: the connection is closed (1008, policy violation).
A client that backs off recovers fully; a burst now and then is never punished.

Pure: the clock is injected, so tests drive time by hand.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable

Clock = Callable[[], float]


class TokenBucket:
    """`capacity` tokens, refilled continuously at `rate_per_s`; starts full."""

    def __init__(self, rate_per_s: float, capacity: float, clock: Clock = time.monotonic) -> None:
        if rate_per_s <= 0 or capacity < 1:
            raise ValueError(
                f"need rate_per_s > 0 and capacity >= 1, got {rate_per_s} and {capacity}"
            )
        self.rate_per_s = rate_per_s
        self.capacity = float(capacity)
        self._clock = clock
        self._tokens = float(capacity)
        self._updated = clock()

    @property
    def tokens(self) -> float:
        """Tokens available now (refilled up to the current time)."""
        self._refill()
        return self._tokens

    def take(self) -> bool:
        """Spend one token if there is one; False (and nothing spent) otherwise."""
        self._refill()
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False

    def _refill(self) -> None:
        now = self._clock()
        elapsed = now - self._updated
        if elapsed > 0:
            self._tokens = min(self.capacity, self._tokens + elapsed * self.rate_per_s)
        self._updated = now


class Verdict(enum.Enum):
    """What to do with one incoming frame."""

    ALLOW = "allow"
    REJECT = "reject"  # answer rate_limited, do not serve
    CLOSE = "close"  # the flood goes on: close the connection with 1008


class FloodGuard:
    """Decides, frame by frame, whether a connection is within its rate (see module doc).

    rate_per_s, burst: the frame bucket (sustained rate and how far above it a client may
        burst).
    close_after: refused frames tolerated within about `window_s` seconds before `CLOSE`.
    """

    def __init__(
        self,
        rate_per_s: float,
        burst: int,
        close_after: int,
        *,
        window_s: float = 10.0,
        clock: Clock = time.monotonic,
    ) -> None:
        self._frames = TokenBucket(rate_per_s, burst, clock)
        self._patience = TokenBucket(close_after / window_s, close_after, clock)

    def check(self, client_allows: bool = True) -> Verdict:
        """client_allows: False when the frame is over a budget shared with other connections
        (`clients.ClientTable`); it is then refused like one over this connection's own."""
        if self._frames.take() and client_allows:
            return Verdict.ALLOW
        if self._patience.take():
            return Verdict.REJECT
        return Verdict.CLOSE
