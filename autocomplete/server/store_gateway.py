"""The server's only door to the session store: deadlines, a breaker, metrics; never raises.

Session context improves completions but is never required (DESIGN.md), so a failing store
must not reach the user as an error:

* `recent` gives up after `read_timeout_s` and returns no context; while the store is failing,
  the `Breaker` lets keystrokes skip it entirely (one probe per cool-down tests it again);
* `remember` (a submit) always tries, waits up to `write_timeout_s`, and reports whether the
  query was stored, so the client's `ack` can say `stored: false` instead of dropping it;
* every outcome updates the store metrics, and a success closes the breaker, so recovery
  after Redis comes back needs no restart.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from session_store.base import SessionStore
from session_store.errors import SessionStoreUnavailable
from session_store.fresh import FreshCounts

from .breaker import Breaker, Clock
from .handshake import redact
from .metrics import ServerMetrics

log = logging.getLogger("autocomplete.server")
T = TypeVar("T")
#: One personal-history entry as rankers take it: (query, count, last used unix time).
HistoryItem = tuple[str, int, float]


class StoreGateway:
    def __init__(
        self,
        store: SessionStore,
        metrics: ServerMetrics,
        *,
        read_timeout_s: float,
        write_timeout_s: float,
        retry_after_s: float,
        clock: Clock = time.monotonic,
    ) -> None:
        self.store = store
        self.metrics = metrics
        self.read_timeout_s = read_timeout_s
        self.write_timeout_s = write_timeout_s
        self.breaker = Breaker(retry_after_s, clock)

    @property
    def name(self) -> str:
        return self.store.name

    async def recent(self, session_id: str) -> tuple[str, ...]:
        """The session's previous queries (most recent last); () when the store cannot say."""
        queries = await self._read("recent", lambda: self.store.recent(session_id))
        return () if queries is None else tuple(queries)

    async def user_history(self, user_id: str) -> tuple[HistoryItem, ...] | None:
        """The user's personal history as (query, count, last_used) tuples, most recently
        used first; None when the store cannot say (so callers do not cache the gap)."""
        entries = await self._read("user_history", lambda: self.store.user_history(user_id))
        if entries is None:
            return None
        return tuple((e.query, e.count, e.last_used) for e in entries)

    async def remember(self, session_id: str, user_id: str | None, query: str) -> bool:
        """Make `query` the session's newest query (and count it in the user's history).

        True only when the session store kept it; the personal history is best effort (its
        failure is counted and logged, but the session context is what `stored` reports).
        """
        try:
            await self._call("append", self.store.append(session_id, query), self.write_timeout_s)
        except _Failed:
            self.breaker.failure()
            return False
        self.breaker.success()
        if user_id is not None:
            try:
                await self._call(
                    "record_user", self.store.record_user(user_id, query), self.write_timeout_s
                )
            except _Failed:
                log.info("personal history not updated for %s", redact(user_id))
        return True

    async def forget(self, session_id: str, user_id: str | None, query: str | None) -> bool:
        """Remove `query` (None: everything) from the session and the user's history.

        True only when every store call it needed succeeded, so `ack.stored` false tells the
        client to try again; both calls are attempted either way.
        """
        store = self.store
        calls: list[tuple[str, Callable[[], Awaitable[None]]]] = [
            ("clear", lambda: store.clear(session_id))
            if query is None
            else ("forget", lambda: store.forget(session_id, query))
        ]
        if user_id is not None:
            calls.append(("forget_user", lambda: store.forget_user(user_id, query)))
        stored = True
        for op, call in calls:
            try:
                await self._call(op, call(), self.write_timeout_s)
            except _Failed:
                self.breaker.failure()
                stored = False
            else:
                self.breaker.success()
        return stored

    async def count_fresh(self, counts: FreshCounts, query: str) -> None:
        """Count a submit for fresh completions; best effort (failures counted, logged)."""
        try:
            await self._call("fresh_add", counts.add(query), self.write_timeout_s)
        except _Failed:
            pass

    async def fresh_top(
        self, counts: FreshCounts, n: int, timeout_s: float
    ) -> list[tuple[str, float]] | None:
        """The `n` most counted fresh queries; None when the store cannot say. Outside the
        breaker: a background refresh must not make keystrokes skip the store."""
        try:
            return await self._call("fresh_top", counts.top(n), timeout_s)
        except _Failed:
            return None

    async def ping(self) -> bool:
        """Is the store reachable? Also closes the breaker early when it is."""
        try:
            ok = bool(await self._call("ping", self.store.ping(), self.read_timeout_s))
        except _Failed:
            ok = False
        else:
            if not ok:  # ping reports failure by value, not by raising
                self.metrics.store_failures.labels("ping").inc()
        if ok:
            self.breaker.success()
            self.metrics.store_available.set(1)
        else:
            self.metrics.store_available.set(0)
        return ok

    async def close(self) -> None:
        await self.store.close()

    async def _read(self, op: str, call: Callable[[], Awaitable[T]]) -> T | None:
        """A read behind the breaker: None when skipped, failed or timed out."""
        if not self.breaker.allow():
            self.metrics.store_skipped.inc()
            return None
        try:
            result = await self._call(op, call(), self.read_timeout_s)
        except _Failed:
            self.breaker.failure()
            return None
        except BaseException:  # cancelled (the client left): no verdict on the store
            self.breaker.abandon()
            raise
        self.breaker.success()
        return result

    async def _call(self, op: str, call: Awaitable[T], timeout_s: float) -> T:
        self.metrics.store_operations.labels(op).inc()
        try:
            async with asyncio.timeout(timeout_s):
                result = await call
        except (SessionStoreUnavailable, TimeoutError) as exc:
            self.metrics.store_failures.labels(op).inc()
            self.metrics.store_available.set(0)
            log.debug("session store %s failed: %s", op, exc or "timed out")
            raise _Failed from None
        self.metrics.store_available.set(1)
        return result


class _Failed(Exception):
    """A store call failed or timed out (already counted and logged)."""
