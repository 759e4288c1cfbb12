"""Backoff as one policy object: retries are a policy, not loops sprinkled over call sites.

Pure: `delays()` yields how long to wait before each retry, exponential with jitter, until
the total waiting would pass the deadline; the caller sleeps and retries, and gives up when
the iterator ends. The random source is injected so tests see exact numbers.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class Backoff:
    """base_s: the first delay's cap; each retry multiplies it by `factor`, up to `max_s`.
    deadline_s: total waiting allowed across all retries (the last delay is shortened to fit).
    Each delay is drawn from [cap/2, cap] ("equal jitter"): spread out, never zero.
    """

    base_s: float = 0.05
    factor: float = 2.0
    max_s: float = 2.0
    deadline_s: float = 30.0

    def __post_init__(self) -> None:
        if not (0 < self.base_s <= self.max_s and self.factor >= 1 and self.deadline_s >= 0):
            raise ValueError(f"need 0 < base_s <= max_s, factor >= 1, deadline_s >= 0; got {self}")

    def delays(self, rand: Callable[[], float] = random.random) -> Iterator[float]:
        waited = 0.0
        cap = self.base_s
        while waited < self.deadline_s:
            d = min(cap * (0.5 + 0.5 * rand()), self.deadline_s - waited)
            waited += d
            yield d
            cap = min(cap * self.factor, self.max_s)


#: Waiting for a restarting server: a few seconds is normal (index load), 30 s is not.
RECONNECT = Backoff(base_s=0.1, factor=2.0, max_s=2.0, deadline_s=30.0)
#: A `rate_limited` answer: the bucket refills within tens of milliseconds.
RATE_LIMITED = Backoff(base_s=0.02, factor=2.0, max_s=1.0, deadline_s=30.0)


@dataclass
class Pacer:
    """Least gap between frames of one session, learned from `rate_limited` answers.

    A refusal doubles the gap (from `floor_s`, at most `ceiling_s`); each served frame
    shrinks it by `decay`, so a replay settles just under the server's rate instead of
    tripping its flood guard (which closes the connection after repeated refusals).
    Mutable, one per session; no clock inside.
    """

    floor_s: float = 0.005
    ceiling_s: float = 1.0
    decay: float = 0.99
    interval_s: float = 0.0

    def refused(self) -> None:
        self.interval_s = min(self.ceiling_s, max(self.floor_s, self.interval_s * 2))

    def served(self) -> None:
        self.interval_s *= self.decay
        if self.interval_s < self.floor_s / 2:
            self.interval_s = 0.0
