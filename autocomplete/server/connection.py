"""One WebSocket connection: read frames, answer them, close politely.

The reader loop never waits on the session store for a keystroke: each `complete` runs in its
own task (store read, then ranking inline: ranking is ~30 us - 1 ms of CPU, cheaper than any
hand-off to a thread), so the reader is free to see the next keystroke. That is what makes
"newest wins" real: a `complete` still waiting for its session context when a newer one
arrives is dropped unanswered, before it is ranked. A `submit` is served in the reader itself,
so the completes that follow it see the query it stored.

Personal history: when the ranker takes it (`supports_history`) and the client named a user,
the user's history is read once per connection (next to the first keystroke's session read)
and again after each submit or forget, which is when it changes; keystrokes in between reuse
it. A query the client asked to forget is also hidden for the rest of the connection (until
it is submitted again), so it cannot come back as history even when the store was down.

An empty prefix (the box got focus) is answered with recent searches instead of the ranker:
the session's queries, newest first, then the user's history (`assemble.recent_searches`).
Every item sent, whatever its source, passes the blocklist (when one is configured). Fresh
queries (submitted lately through the server) are merged into ranked replies by the rule in
`assemble.merge_fresh`; each submit the store kept is counted for them, once per query per
connection.

Closing: the client leaves (pending work is cancelled), the flood guard gives up on it (1008),
or the server drains (the reply in flight is finished, then 1001).
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from typing import Any, Protocol

from autocomplete.ranking import Completion, Ranker

from .assemble import EXTRA, Blocks, allowed_completions, merge_fresh, recent_searches
from .errors import ProtocolError
from .freshness import FreshFeed
from .handshake import Identity
from .metrics import ServerMetrics
from .protocol import (
    CompleteRequest,
    ForgetRequest,
    Limits,
    SubmitRequest,
    ack_frame,
    completions_frame,
    error_frame,
    parse_frame,
)
from .ratelimit import FloodGuard, Verdict
from .store_gateway import HistoryItem, StoreGateway

log = logging.getLogger("autocomplete.server")

CLOSE_GOING_AWAY = 1001  # server shutting down
CLOSE_POLICY = 1008  # flood: rate limit exceeded for too long
#: Bound on the per-connection query sets below (memory a client can make us hold). A client
#: past it stops adding to fresh counts and to what its own connection hides.
MAX_TRACKED_QUERIES = 256


class Channel(Protocol):
    """The part of `starlette.websockets.WebSocket` a connection uses (fakes in unit tests)."""

    async def receive(self) -> MutableMapping[str, Any]: ...
    async def send_text(self, data: str) -> None: ...
    async def close(self, code: int = 1000, reason: str | None = None) -> None: ...


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
    blocks: Blocks | None = None
    """The blocklist test (`ReloadingBlocklist.blocks`); None: nothing is blocked."""
    fresh: FreshFeed | None = None
    """Recently submitted queries, counted and merged into replies; None: off."""

    @property
    def personal(self) -> bool:
        """Does the ranker take a user's history (`complete(..., history=...)`)?"""
        return bool(getattr(self.ranker, "supports_history", False))


class Phase(enum.Enum):
    READING = "reading"  # waiting for the next frame: safe to interrupt for a drain
    HANDLING = "handling"  # serving a frame: a drain waits until it is done
    CLOSED = "closed"


class Connection:
    def __init__(self, channel: Channel, services: Services, identity: Identity) -> None:
        self.channel = channel
        self.services = services
        self.identity = identity
        self.phase = Phase.HANDLING
        self.draining = False
        self._disconnected = False
        self._guard = FloodGuard(
            services.rate_per_s, services.rate_burst, services.flood_close_after
        )
        self._latest = 0  # sequence number of the newest complete request
        self._tasks: set[asyncio.Task[None]] = set()
        self._reader: asyncio.Task[Any] | None = None
        self._history: tuple[HistoryItem, ...] | None = None  # None: (re)load it
        self._hidden: set[str] = set()  # forgotten on this connection, until submitted again
        self._counted: set[str] = set()  # fresh counts: one per query per connection

    def drain(self) -> None:
        """Ask the connection to finish its in-flight reply and close with 1001.

        Safe to call from any callback on the event loop, any number of times.
        """
        if self.draining or self.phase is Phase.CLOSED:
            return
        self.draining = True
        if self.phase is Phase.READING and self._reader is not None:
            self._reader.cancel()  # only ever interrupts `receive()`; see `run`

    async def run(self) -> None:
        """Serve frames until the client leaves, the flood guard closes, or a drain."""
        self._reader = asyncio.current_task()
        close: tuple[int, str] | None = None
        try:
            while not self.draining and close is None:
                self.phase = Phase.READING
                try:
                    message = await self.channel.receive()
                except asyncio.CancelledError:
                    if not self.draining:
                        raise
                    self._reader.uncancel()  # our own cancel, from `drain`
                    break
                finally:
                    if self.phase is Phase.READING:
                        self.phase = Phase.HANDLING
                if message["type"] == "websocket.disconnect":
                    self._disconnected = True
                    break
                close = await self._on_message(message)
            if self.draining and close is None:
                close = (CLOSE_GOING_AWAY, "server shutting down")
        finally:
            self.phase = Phase.CLOSED
            await self._settle()
        if close is not None and not self._disconnected:
            try:
                await self.channel.close(*close)
            except (RuntimeError, OSError):  # the client left first
                pass

    async def _settle(self) -> None:
        """Let in-flight completes finish when draining; cancel them otherwise."""
        pending = {t for t in self._tasks if not t.done()}
        if not pending:
            return
        if self.draining and not self._disconnected:
            _, pending = await asyncio.wait(pending, timeout=self.services.drain_timeout_s)
        for task in pending:
            task.cancel()

    async def _on_message(self, message: MutableMapping[str, Any]) -> tuple[int, str] | None:
        """Serve one frame; a (code, reason) result closes the connection."""
        m = self.services.metrics
        verdict = self._guard.check()
        if verdict is not Verdict.ALLOW:
            m.errors.labels("rate_limited").inc()
            if verdict is Verdict.CLOSE:
                m.rate_limit_closes.inc()
                await self._send(error_frame(None, "rate_limited", "too many frames; closing"))
                return CLOSE_POLICY, "rate limit exceeded"
            await self._send(
                error_frame(
                    None,
                    "rate_limited",
                    f"too many frames (limit {self.services.rate_per_s:g}/s); this one was dropped",
                )
            )
            return None

        data = message.get("text")
        if data is None:
            data = message.get("bytes") or b""
        try:
            request = parse_frame(data, self.services.limits)
        except ProtocolError as exc:
            m.requests.labels("invalid").inc()
            m.errors.labels(exc.code).inc()
            await self._send(error_frame(exc.request_id, exc.code, exc.message))
            return None if exc.close_code is None else (exc.close_code, exc.code)

        if isinstance(request, CompleteRequest):
            m.requests.labels("complete").inc()
            self._start_complete(request)
        elif isinstance(request, ForgetRequest):
            m.requests.labels("forget").inc()
            await self._forget(request)
        else:
            m.requests.labels("submit").inc()
            await self._submit(request)
        return None

    def _start_complete(self, request: CompleteRequest) -> None:
        self._latest += 1
        task = asyncio.create_task(self._complete(request, self._latest, self.services.clock()))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _complete(self, request: CompleteRequest, seq: int, started: float) -> None:
        s = self.services
        if not request.prefix:
            await self._recent_searches(request, seq, started)
            return
        previous, history = await self._context()
        if seq != self._latest:  # a newer keystroke arrived meanwhile: newest wins
            s.metrics.superseded.inc()
            return
        if self._hidden:
            history = tuple(h for h in history if h[0] not in self._hidden)

        def rank(k: int) -> list[Completion]:
            if history:
                return s.ranker.complete(previous, request.prefix, k, history=history)  # type: ignore[call-arg]
            return s.ranker.complete(previous, request.prefix, k)

        try:
            items = allowed_completions(rank, request.k, s.blocks)
            if s.fresh is not None:
                fresh = s.fresh.extending(request.prefix, request.k + EXTRA)
                items = merge_fresh(items, fresh, request.k, s.blocks)
        except Exception:
            log.exception("ranker failed on a prefix of %d characters", len(request.prefix))
            s.metrics.errors.labels("unavailable").inc()
            await self._send(
                error_frame(
                    request.id, "unavailable", "completions are unavailable for this prefix"
                )
            )
            return
        took = s.clock() - started
        s.metrics.completion_latency.observe(took)
        await self._send(completions_frame(request.id, request.prefix, items, took * 1000.0))

    async def _recent_searches(self, request: CompleteRequest, seq: int, started: float) -> None:
        """Answer an empty prefix from the store (read afresh: it is once per focus)."""
        s, user = self.services, self.identity.user
        if user is None:
            recent, history = await s.gateway.recent(self.identity.session), None
        else:
            recent, history = await asyncio.gather(
                s.gateway.recent(self.identity.session), s.gateway.user_history(user)
            )
        if seq != self._latest:
            s.metrics.superseded.inc()
            return
        items = recent_searches(
            recent, history or (), request.k, hidden=self._hidden, blocks=s.blocks
        )
        took = s.clock() - started
        s.metrics.completion_latency.observe(took)
        await self._send(completions_frame(request.id, request.prefix, items, took * 1000.0))

    async def _context(self) -> tuple[tuple[str, ...], tuple[HistoryItem, ...]]:
        """(the session's previous queries, the user's history); empty where unknown."""
        gateway, user = self.services.gateway, self.identity.user
        if user is None or not self.services.personal or self._history is not None:
            return await gateway.recent(self.identity.session), self._history or ()
        previous, history = await asyncio.gather(
            gateway.recent(self.identity.session), gateway.user_history(user)
        )
        if history is not None:
            self._history = history
        return previous, history or ()

    async def _submit(self, request: SubmitRequest) -> None:
        stored = await self.services.gateway.remember(
            self.identity.session, self.identity.user, request.query
        )
        self._history = None  # the submit changed it
        self._hidden.discard(request.query)
        fresh = self.services.fresh
        # A store that is down is skipped; a connection repeating a query counts it once, so
        # one person pressing Enter again cannot make a query trend for everyone.
        counted = self._counted
        if (
            stored
            and fresh is not None
            and request.query not in counted
            and len(counted) < MAX_TRACKED_QUERIES
        ):
            counted.add(request.query)
            await fresh.count(request.query)
        await self._send(ack_frame(request.id, stored))

    async def _forget(self, request: ForgetRequest) -> None:
        stored = await self.services.gateway.forget(
            self.identity.session, self.identity.user, request.query
        )
        self._history = None  # the forget changed it
        if request.query is not None and len(self._hidden) < MAX_TRACKED_QUERIES:
            self._hidden.add(request.query)
        await self._send(ack_frame(request.id, stored))

    async def _send(self, text: str) -> bool:
        if self._disconnected:
            return False
        try:
            await self.channel.send_text(text)
        except Exception:  # noqa: BLE001 - any failure to write means the client is gone
            self._disconnected = True
            return False
        return True
