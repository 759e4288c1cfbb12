"""Embedded in-memory session store: the default when no Redis URL is given.

One process, no network, nothing to run next to the server; state is lost on restart, which
only costs session context. Memory is bounded twice: entries expire after their TTL, and each
table holds at most `max_sessions` / `max_users` entries, evicting the least recently *written*
one. Ordering by last write (which is also when the TTL is refreshed) keeps each table sorted
by expiry time, so expired entries are purged from the front in O(1) amortised per write
rather than by a background sweeper.

Methods never await, so under asyncio each runs atomically without a lock. Clocks are
injectable so expiry can be tested without sleeping.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

from session_store.base import HistoryEntry, StoreConfig, check_id, check_query

Clock = Callable[[], float]
V = TypeVar("V")


class _ExpiringLru(Generic[V]):
    """A bounded map whose entries expire `ttl_s` after their last `put`."""

    def __init__(self, max_items: int, ttl_s: float, clock: Clock) -> None:
        self._max_items = max_items
        self._ttl_s = ttl_s
        self._clock = clock
        self._items: OrderedDict[str, tuple[float, V]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: str) -> V | None:
        """The live value for `key`, or None; reading neither refreshes the TTL nor reorders."""
        item = self._items.get(key)
        if item is None:
            return None
        expires_at, value = item
        if expires_at <= self._clock():
            del self._items[key]
            return None
        return value

    def put(self, key: str, value: V) -> None:
        """Store `value`, restart its TTL, and evict expired or surplus entries."""
        now = self._clock()
        self._items[key] = (now + self._ttl_s, value)
        self._items.move_to_end(key)
        self._evict(now)

    def pop(self, key: str) -> None:
        self._items.pop(key, None)

    def clear(self) -> None:
        self._items.clear()

    def _evict(self, now: float) -> None:
        items = self._items
        while len(items) > self._max_items:
            items.popitem(last=False)
        # The table is sorted by expiry (constant TTL, monotonic clock), so expired entries
        # are all at the front.
        while items:
            expires_at, _ = next(iter(items.values()))
            if expires_at > now:
                break
            items.popitem(last=False)


class MemoryStore:
    """`SessionStore` kept in this process's memory.

    `clock` (default `time.monotonic`) drives expiry; `wall_clock` (default `time.time`) stamps
    `last_used` when `record_user` is not given `now`.
    """

    name = "memory"

    def __init__(
        self,
        config: StoreConfig | None = None,
        *,
        clock: Clock = time.monotonic,
        wall_clock: Clock = time.time,
    ) -> None:
        self.config = config if config is not None else StoreConfig()
        self._wall_clock = wall_clock
        self._sessions: _ExpiringLru[list[str]] = _ExpiringLru(
            self.config.max_sessions, self.config.session_ttl_s, clock
        )
        # Per user: query -> entry, ordered from least to most recently recorded.
        self._users: _ExpiringLru[OrderedDict[str, HistoryEntry]] = _ExpiringLru(
            self.config.max_users, self.config.user_ttl_s, clock
        )
        # Per user: the keys of their sessions, oldest first (for `forget_user`).
        self._user_sessions: _ExpiringLru[OrderedDict[str, None]] = _ExpiringLru(
            self.config.max_users, self.config.user_ttl_s, clock
        )

    @staticmethod
    def _key(session_id: str, user_id: str | None) -> str:
        check_id("session_id", session_id)
        if user_id is None:
            return session_id
        return f"{check_id('user_id', user_id)}\0{session_id}"

    async def recent(self, session_id: str, user_id: str | None = None) -> list[str]:
        queries = self._sessions.get(self._key(session_id, user_id))
        return list(queries) if queries else []

    async def append(self, session_id: str, query: str, user_id: str | None = None) -> None:
        key = self._key(session_id, user_id)
        check_query(query)
        queries = self._sessions.get(key) or []
        if not queries or queries[-1] != query:
            queries.append(query)
            del queries[: -self.config.max_recent]
        self._sessions.put(key, queries)
        if user_id is not None:
            index = self._user_sessions.get(user_id) or OrderedDict()
            index[key] = None
            index.move_to_end(key)
            while len(index) > self.config.max_user_sessions:
                index.popitem(last=False)
            self._user_sessions.put(user_id, index)

    async def clear(self, session_id: str, user_id: str | None = None) -> None:
        self._sessions.pop(self._key(session_id, user_id))

    async def forget(self, session_id: str, query: str, user_id: str | None = None) -> None:
        key = self._key(session_id, user_id)
        check_query(query)
        self._forget_in(key, query)

    def _forget_in(self, key: str, query: str) -> None:
        queries = self._sessions.get(key)
        if queries is None:
            return
        queries[:] = [q for q in queries if q != query]
        if not queries:
            self._sessions.pop(key)

    async def user_history(self, user_id: str) -> list[HistoryEntry]:
        check_id("user_id", user_id)
        entries = self._users.get(user_id)
        if not entries:
            return []
        return sorted(entries.values(), key=lambda e: e.last_used, reverse=True)

    async def record_user(self, user_id: str, query: str, now: float | None = None) -> None:
        check_id("user_id", user_id)
        check_query(query)
        when = self._wall_clock() if now is None else float(now)
        entries = self._users.get(user_id)
        if entries is None:
            entries = OrderedDict()
        old = entries.get(query)
        if old is None:
            entries[query] = HistoryEntry(query, 1, when)
        else:
            entries[query] = HistoryEntry(query, old.count + 1, max(old.last_used, when))
            entries.move_to_end(query)
        while len(entries) > self.config.user_history_size:
            entries.popitem(last=False)
        self._users.put(user_id, entries)

    async def forget_user(self, user_id: str, query: str | None = None) -> None:
        check_id("user_id", user_id)
        if query is not None:
            check_query(query)
        sessions = self._user_sessions.get(user_id) or OrderedDict()
        if query is None:
            self._users.pop(user_id)
            for key in sessions:
                self._sessions.pop(key)
            self._user_sessions.pop(user_id)
            return
        for key in sessions:
            self._forget_in(key, query)
        entries = self._users.get(user_id)
        if entries is None:
            return
        entries.pop(query, None)
        if not entries:
            self._users.pop(user_id)

    async def ping(self) -> bool:
        return True

    async def close(self) -> None:
        self._sessions.clear()
        self._users.clear()
        self._user_sessions.clear()
