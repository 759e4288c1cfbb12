"""The worker's view of fresh queries: counts submits, refreshes a `FreshIndex` snapshot.

Every `refresh_s` a background task reads the most counted queries from the store (Redis:
shared by every worker and host; else this worker's memory) and swaps in a new immutable
`FreshIndex`; keystrokes only read the current snapshot, never the store. When the store
cannot answer, the last snapshot stays in use.
"""

from __future__ import annotations

import asyncio
import logging

from autocomplete.fresh import EMPTY, FreshIndex
from session_store.fresh import FreshCounts

from .store_gateway import StoreGateway

log = logging.getLogger("autocomplete.server")


class FreshFeed:
    def __init__(
        self, counts: FreshCounts, gateway: StoreGateway, refresh_s: float, max_items: int
    ) -> None:
        self.counts = counts
        self.gateway = gateway
        self.refresh_s = refresh_s
        self.max_items = max_items
        self.index: FreshIndex = EMPTY
        self.refreshes = 0  # successful reads, for /healthz
        self.failures = 0

    def extending(self, prefix: str, n: int) -> list[tuple[str, float]]:
        return self.index.extending(prefix, n)

    async def count(self, query: str) -> None:
        """One submit of `query` (best effort: a failure is counted in the store metrics)."""
        await self.gateway.count_fresh(self.counts, query)

    async def refresh(self) -> bool:
        """Read the counts and swap the snapshot; False (keeping the old one) on failure."""
        timeout_s = max(self.refresh_s, self.gateway.read_timeout_s)
        top = await self.gateway.fresh_top(self.counts, self.max_items, timeout_s)
        if top is None:
            self.failures += 1
            return False
        self.index = FreshIndex(top, self.max_items)
        self.refreshes += 1
        return True

    async def run(self) -> None:
        """Refresh forever (cancelled at shutdown); the interval is a period, not a wait for
        readiness."""
        while True:
            try:
                await self.refresh()
            except Exception:  # a bug here must not end fresh completions for good
                log.exception("fresh completions not refreshed")
            await asyncio.sleep(self.refresh_s)

    async def close(self) -> None:
        await self.counts.close()
