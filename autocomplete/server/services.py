"""What every connection of one app shares: the ranker, the store's gateway, metrics, limits,
and the two answers a keystroke can get (`ranked` for a prefix, `on_focus` for an empty box).

Kept apart from `connection` so the plain-HTTP endpoint (`http_complete`) answers through
exactly the same path as the WebSocket: the same ranker call, blocklist and fresh merge.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from autocomplete.ranking import Completion, Context, Ranker
from session_store.base import HistoryEntry

from .assemble import EXTRA, Blocks, allowed_completions, merge_fresh, recent_searches
from .fairness import ClientLimits
from .freshness import FreshFeed
from .metrics import ServerMetrics
from .protocol import Limits
from .store_gateway import StoreGateway


@dataclass(frozen=True)
class Services:
    """What every connection of one app shares."""

    ranker: Ranker
    gateway: StoreGateway
    metrics: ServerMetrics
    limits: Limits
    rate_per_s: float
    rate_burst: int
    flood_close_after: int
    drain_timeout_s: float
    clock: Callable[[], float] = time.perf_counter
    wall_clock: Callable[[], float] = time.time
    blocks: Blocks | None = None
    """The blocklist test (`ReloadingBlocklist.blocks`); None: nothing is blocked."""
    fresh: FreshFeed | None = None
    """Recently submitted queries, counted and merged into replies; None: off."""
    clients: ClientLimits | None = None
    """Per-client-address frame budget; None: only the per-connection one."""
    idle_timeout_s: float = 120.0
    context_refresh_s: float = 2.0
    """How old the connection's copy of its context may get before a background re-read."""
    context_timeout_s: float = 0.5
    """Deadline of a background context read (keystrokes wait at most the read budget)."""
    popular: Callable[[int], list[Completion]] | None = None
    """The index's k most popular queries (`MPCRanker.complete(ANONYMOUS, "", k)`), offered on focus
    to a session with no recent searches; None: such a session gets an empty list."""

    def ranked(self, context: Context, prefix: str, k: int) -> list[Completion]:
        """At most `k` completions of a non-empty `prefix`: ranked, unblocked, fresh queries
        merged in. The ranker's exceptions propagate (callers answer `unavailable`)."""

        def rank(n: int) -> list[Completion]:
            return self.ranker.complete(context, prefix, n)

        items = allowed_completions(rank, k, self.blocks)
        if self.fresh is not None:
            fresh = self.fresh.extending(prefix, k + EXTRA)
            items = merge_fresh(items, fresh, k, self.blocks)
        return items

    def on_focus(
        self,
        previous: tuple[str, ...],
        history: tuple[HistoryEntry, ...],
        k: int,
        hidden: set[str] | frozenset[str] = frozenset(),
    ) -> list[Completion]:
        """The answer to an empty prefix: recent searches, else the most popular queries."""
        items = recent_searches(previous, history, k, hidden=hidden, blocks=self.blocks)
        if items or self.popular is None:
            return items
        return allowed_completions(self.popular, k, self.blocks)
