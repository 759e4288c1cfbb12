"""The server's only door to the session store: deadlines, a breaker, metrics; never hangs.

Session context improves completions but is never required, so a failing or slow store must
not reach the user as an error or as a slow keystroke:

* reads (`context`, `recent`, `user_history`) give up after their deadline and return no
  context; the `Breaker` opens when the store fails *or* gets slow (p95 over the read
  budget), and while it is open reads are skipped (one probe per cool-down tests the store);
* writes (`remember`, `forget`) always try, wait up to `write_timeout_s`, and report whether
  the store kept them, so the client's `ack` can say `stored: false` instead of dropping it;
* a value the store refuses (`ValueError`/`TypeError` from its argument checks) raises
  `StoreRejected` for writes, so the client gets a `bad_request`, never a dead handler;
* health checks (`ping`) only report: they never close the breaker.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from session_store.base import HistoryEntry, SessionStore
from session_store.errors import SessionStoreUnavailable
from session_store.fresh import FreshCounts

from .breaker import Breaker, BreakerState, Clock
from .deadline import within
from .errors import ServerError
from .logs import LogLimiter
from .metrics import ServerMetrics

log = logging.getLogger("autocomplete.server")
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Context:
    """What the store knows about a connection: the session's previous queries (oldest
    first) and the user's history (most recently used first; () for anonymous users)."""

    previous: tuple[str, ...]
    history: tuple[HistoryEntry, ...]


class StoreRejected(ServerError):
    """The store refused a value (e.g. too long, or not text); the request is a bad one."""


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
        self.breaker = Breaker(retry_after_s, clock, slow_s=read_timeout_s)
        self._clock = clock
        self._logs = LogLimiter(log)

    @property
    def name(self) -> str:
        return self.store.name

    async def context(
        self, session_id: str, user_id: str | None, timeout_s: float
    ) -> Context | None:
        """Session and user context in one breaker-guarded read; None when the store cannot
        say within `timeout_s` (or is being skipped)."""
        store = self.store

        async def both() -> Context:
            if user_id is None:
                return Context(tuple(await store.recent(session_id)), ())
            recent, entries = await asyncio.gather(
                store.recent(session_id, user_id), store.user_history(user_id)
            )
            return Context(tuple(recent), tuple(entries))

        return await self._read("context", both, timeout_s)

    async def remember(self, session_id: str, user_id: str | None, query: str) -> bool:
        """Make `query` the session's newest query (and count it in the user's history).

        True only when the session store kept it; the personal history is best effort (its
        failure is counted and logged, but the session context is what `stored` reports).
        Raises `StoreRejected` when the store refuses the value itself.
        """
        try:
            await self._call(
                "append", self.store.append(session_id, query, user_id), self.write_timeout_s
            )
        except _Failed:
            self._failure()
            return False
        if user_id is not None:
            try:
                await self._call(
                    "record_user", self.store.record_user(user_id, query), self.write_timeout_s
                )
            except _Failed:
                self._logs.log(logging.INFO, "record_user", "personal history not updated")
        return True

    async def forget(
        self,
        session_id: str,
        user_id: str | None,
        query: str | None,
        fresh: tuple[FreshCounts, str] | None = None,
    ) -> bool:
        """Remove `query` (None: everything) from the session, and for an identified user
        from their history and every one of their sessions; with `fresh` (the counts and
        this client's identity in them), also what the client contributed to fresh counts.

        True only when every store call it needed succeeded, so `ack.stored` false tells the
        client to try again; every call is attempted either way.
        """
        store = self.store
        calls: list[tuple[str, Callable[[], Awaitable[None]]]] = []
        if user_id is not None:
            calls.append(("forget_user", lambda: store.forget_user(user_id, query)))
        elif query is None:
            calls.append(("clear", lambda: store.clear(session_id)))
        else:
            calls.append(("forget", lambda: store.forget(session_id, query)))
        if fresh is not None:
            counts, who = fresh
            calls.append(("fresh_forget", lambda: counts.forget(who, query)))
        stored = True
        for op, call in calls:
            try:
                await self._call(op, call(), self.write_timeout_s)
            except _Failed:
                self._failure()
                stored = False
        return stored

    async def count_fresh(self, counts: FreshCounts, query: str, who: str, weight: float) -> bool:
        """Count a submit by identity `who` for fresh completions; best effort (failures are
        counted and logged). True when it counted."""
        try:
            return bool(
                await self._call("fresh_add", counts.add(query, who, weight), self.write_timeout_s)
            )
        except (_Failed, StoreRejected):
            return False

    async def fresh_top(
        self, counts: FreshCounts, n: int, timeout_s: float
    ) -> list[tuple[str, float]] | None:
        """The `n` most counted fresh queries; None when the store cannot say. Outside the
        breaker: a background refresh must not make keystrokes skip the store."""
        try:
            return await self._call("fresh_top", counts.top(n), timeout_s)
        except (_Failed, StoreRejected):
            return None

    async def ping(self) -> bool:
        """Is the store reachable (within the write deadline: this asks whether it answers,
        not whether it is fast)? Reports only: the breaker is left as it is."""
        try:
            ok = bool(await self._call("ping", self.store.ping(), self.write_timeout_s))
        except (_Failed, StoreRejected):
            ok = False
        else:
            if not ok:  # ping reports failure by value, not by raising
                self.metrics.store_failures.labels("ping").inc()
        self.metrics.store_available.set(1 if ok else 0)
        return ok

    async def close(self) -> None:
        await self.store.close()

    async def _read(self, op: str, call: Callable[[], Awaitable[T]], timeout_s: float) -> T | None:
        """A read behind the breaker: None when skipped, failed, refused or timed out."""
        if not self.breaker.allow():
            self.metrics.store_skipped.inc()
            return None
        started = self._clock()
        try:
            result = await self._call(op, call(), timeout_s)
        except _Failed:
            self._failure()
            return None
        except StoreRejected:
            self.breaker.abandon()
            return None
        except BaseException:  # cancelled (the client left): no verdict on the store
            self.breaker.abandon()
            raise
        opened_slow = self.breaker.opened_slow
        self.breaker.success(self._clock() - started)
        if self.breaker.opened_slow != opened_slow:
            self.metrics.breaker_opens.labels("latency").inc()
            self._logs.log(logging.WARNING, "slow", "session store is slow: skipping it a while")
        self._breaker_gauge()
        return result

    def _failure(self) -> None:
        if self.breaker.state is not BreakerState.OPEN:
            self.metrics.breaker_opens.labels("error").inc()
        self.breaker.failure()
        self._breaker_gauge()

    def _breaker_gauge(self) -> None:
        self.metrics.breaker_open.set(0 if self.breaker.state is BreakerState.CLOSED else 1)

    async def _call(self, op: str, call: Awaitable[T], timeout_s: float) -> T:
        self.metrics.store_operations.labels(op).inc()
        started = self._clock()
        try:
            result = await within(call, timeout_s)
        except (SessionStoreUnavailable, TimeoutError) as exc:
            self.metrics.store_failures.labels(op).inc()
            self.metrics.store_available.set(0)
            log.debug("session store %s failed: %s", op, exc or "timed out")
            raise _Failed from None
        except (ValueError, TypeError) as exc:
            self.metrics.store_failures.labels(op).inc()
            self._logs.log(
                logging.WARNING, f"rejected:{op}", "session store refused a %s: %s", op, exc
            )
            raise StoreRejected(f"the session store refused this value: {exc}") from None
        self.metrics.store_latency.labels(op).observe(self._clock() - started)
        self.metrics.store_available.set(1)
        return result


class _Failed(Exception):
    """A store call failed or timed out (already counted and logged)."""
