"""Fresh counts replayed offline, as one server worker sees them, on the log's clock.

The server counts each submitted query (`session_store.fresh`) and every couple of seconds
swaps in a new `fresh.FreshIndex` snapshot of the counts; a keystroke is merged with the
snapshot it finds. `FreshReplay` does the same on a simulated clock, so a benchmark can
replay a log in global time order (`submits_in_time_order`, `grouped_by_time`) and measure
fresh completions honestly: no keystroke sees its own query, or a later one.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from indexer.sessions import Session
from session_store.fresh import FreshConfig, MemoryFreshCounts

from .fresh import EMPTY, FreshIndex


@dataclass(frozen=True, order=True)
class Submit:
    """The j-th query of `sessions[session]`, submitted at `time`."""

    time: float
    session: int
    j: int


def submits_in_time_order(sessions: Sequence[Session]) -> list[Submit]:
    """Every query of every session, by time (ties: session, then position)."""
    return sorted(Submit(t, i, j) for i, s in enumerate(sessions) for j, t in enumerate(s.times))


def grouped_by_time(submits: Sequence[Submit]) -> Iterator[list[Submit]]:
    """Runs of submits with the same timestamp: none of them may see another as fresh."""
    group: list[Submit] = []
    for s in submits:
        if group and s.time != group[0].time:
            yield group
            group = []
        group.append(s)
    if group:
        yield group


class FreshReplay:
    """Fresh counts as one server worker sees them, on a simulated clock.

    Call `snapshot(t)` for keystrokes at time t, then `submit(...)` the queries submitted at
    t; times must not go backwards. `max_tracked`: the queries one connection may add to the
    counts (the server's `MAX_TRACKED_QUERIES`). The server swaps in a new `FreshIndex`
    every `refresh_s` from what the store holds at that moment; here the snapshot of refresh
    time r is built from the submits with time < r (the first call at or after r comes before
    any submit at or after r), read with `now=r`. So a keystroke at t never sees a submit
    from t or later.
    """

    def __init__(
        self, refresh_s: float, max_tracked: int, config: FreshConfig | None = None
    ) -> None:
        if not refresh_s > 0:
            raise ValueError(f"refresh_s must be > 0, got {refresh_s}")
        self.refresh_s = refresh_s
        self.max_tracked = max_tracked
        self.config = config if config is not None else FreshConfig()
        self.counts = MemoryFreshCounts(self.config)
        self.index: FreshIndex = EMPTY
        self.refreshes = 0
        self._refreshed_at = -math.inf
        self._last_time = -math.inf
        self._counted: defaultdict[object, set[str]] = defaultdict(set)

    def _check_time(self, t: float) -> None:
        if t < self._last_time:
            raise ValueError(f"time went backwards: {t} after {self._last_time}")
        self._last_time = t

    async def snapshot(self, t: float) -> FreshIndex:
        """The snapshot a keystroke at time `t` is merged with."""
        self._check_time(t)
        r = math.floor(t / self.refresh_s) * self.refresh_s
        if r > self._refreshed_at:
            top = await self.counts.top(self.config.max_items, now=r)
            self.index = FreshIndex(top, self.config.max_items)
            self._refreshed_at = r
            self.refreshes += 1
        return self.index

    async def submit(self, connection: object, query: str, t: float, who: str) -> bool:
        """Count `query` submitted at `t` on `connection` by user `who`; False when the server
        would not (the connection counted it already or has counted too many queries, or the
        user counted it in this window already, or is over their quota)."""
        self._check_time(t)
        seen = self._counted[connection]
        if query in seen or len(seen) >= self.max_tracked:
            return False
        seen.add(query)
        return await self.counts.add(query, f"user:{who}", now=t)
