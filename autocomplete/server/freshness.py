"""The worker's view of fresh queries: counts submits, refreshes a `FreshIndex` snapshot.

Every `refresh_s` a background task reads the released queries from the store (Redis:
shared by every worker and host; else this worker's memory) and swaps in a new immutable
`FreshIndex`; keystrokes only read the current snapshot, never the store. When the store
cannot answer, the last snapshot stays in use.

A submit counts through the identity that sent it (`session_store.fresh`): a keyed pseudonym
of the verified user, weight 1; or of an anonymous client's address, weight
`anonymous_weight` (much less: anyone can be anonymous many times over). A query reaches
other people only once distinct identities worth `min_users` sent it.
"""

from __future__ import annotations

import asyncio
import logging

from autocomplete.fresh import EMPTY, FreshIndex
from session_store.fresh import FreshCounts

from .handshake import Identity
from .pseudonyms import Pseudonyms
from .store_gateway import StoreGateway

log = logging.getLogger("autocomplete.server")


class FreshFeed:
    def __init__(
        self,
        counts: FreshCounts,
        gateway: StoreGateway,
        refresh_s: float,
        max_items: int,
        pseudonyms: Pseudonyms,
        anonymous_weight: float,
    ) -> None:
        self.counts = counts
        self.gateway = gateway
        self.refresh_s = refresh_s
        self.max_items = max_items
        self.pseudonyms = pseudonyms
        self.anonymous_weight = anonymous_weight
        self.index: FreshIndex = EMPTY
        self.refreshes = 0  # successful reads, for /healthz
        self.failures = 0

    def extending(self, prefix: str, n: int) -> list[tuple[str, float]]:
        return self.index.extending(prefix, n)

    def contributor(self, identity: Identity) -> tuple[str, float]:
        """(who, weight) of a connection's submits in the counts."""
        if identity.user is not None:
            return self.pseudonyms.of("user", identity.user), 1.0
        return self.pseudonyms.of("client", identity.peer.address), self.anonymous_weight

    async def count(self, query: str, identity: Identity) -> bool:
        """One submit of `query` by `identity` (best effort: a failure is counted in the
        store metrics); True when it counted."""
        who, weight = self.contributor(identity)
        return await self.gateway.count_fresh(self.counts, query, who, weight)

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
