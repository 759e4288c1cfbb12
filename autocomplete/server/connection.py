"""One WebSocket connection: read frames, answer them, close politely.

The reader loop never waits on the session store: each `complete` runs in its own task
(ranking inline: ~30 us - 1 ms of CPU, cheaper than any hand-off to a thread), so the reader
is free to see the next keystroke. That is what makes "newest wins" real: a `complete` still
waiting when a newer one arrives is dropped unanswered, before it is ranked.

Session context (previous queries, and the user's history for an identified user) lives in a
`context.LocalContext`: read once right after the handshake, updated at once by this
connection's own submits and forgets, and re-read in the background every
`context_refresh_s`. A keystroke waits on the store only while nothing was read yet, and then
at most the store's read budget. Writes (submits, forgets) go through one queue per
connection, in order, so a slow store delays the `ack`, never the next keystroke, and a
forget can never overtake the submit before it. A query forgotten here is also hidden for the
rest of the connection (until submitted again), even when the store was down.

An empty prefix (the box got focus) is answered with recent searches instead of the ranker;
a session with none yet (a new visitor) gets the index's most popular queries instead, which
are k-anonymous labels like any other completion (`Services.on_focus`).
Every item sent, whatever its source, passes the blocklist (when one is configured). Fresh
queries are merged into ranked replies by `assemble.merge_fresh`; each submit the store kept
is counted for them through the connection's identity (`freshness.FreshFeed`), unless the
blocklist blocks it; a forget also takes back what this identity contributed.

Closing: the client leaves (pending work is cancelled; queued writes still reach the store),
the flood guard gives up on it (1008), it stays silent past `idle_timeout_s` (4408), or the
server drains (the reply in flight is finished, then 1001). Nothing a client sends can kill
the handler: an unexpected failure is logged (rate-limited) and answered `unavailable`.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
from collections.abc import MutableMapping
from typing import Any, Protocol

from autocomplete.ranking import Completion, Context, PrefixHistory
from session_store.base import HistoryEntry

from .context import LocalContext
from .errors import ProtocolError
from .handshake import Identity
from .logs import LogLimiter
from .protocol import (
    CompleteRequest,
    ForgetRequest,
    SubmitRequest,
    ack_frame,
    completions_frame,
    error_frame,
    parse_frame,
)
from .ratelimit import FloodGuard, Verdict
from .services import Services
from .store_gateway import StoreRejected

log = logging.getLogger("autocomplete.server")
_logs = LogLimiter(log)

CLOSE_GOING_AWAY = 1001  # server shutting down
CLOSE_POLICY = 1008  # flood: rate limit exceeded for too long
CLOSE_IDLE = 4408  # no frame for `idle_timeout_s` (like HTTP 408); reconnect when needed
#: Bound on the per-connection query sets below (memory a client can make us hold). A client
#: past it stops adding to fresh counts and to what its own connection hides.
MAX_TRACKED_QUERIES = 256
#: Writes (submits, forgets) a connection may have queued; beyond it they are refused at once
#: (`ack stored:false`), never silently dropped.
MAX_QUEUED_WRITES = 32


class Channel(Protocol):
    """The part of `starlette.websockets.WebSocket` a connection uses (fakes in unit tests)."""

    async def receive(self) -> MutableMapping[str, Any]: ...
    async def send_text(self, data: str) -> None: ...
    async def close(self, code: int = 1000, reason: str | None = None) -> None: ...


class Phase(enum.Enum):
    READING = "reading"  # waiting for the next frame: safe to interrupt for a drain
    HANDLING = "handling"  # serving a frame: a drain waits until it is done
    CLOSED = "closed"


_Write = tuple[SubmitRequest | ForgetRequest, int]  # request, local context version after it


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
        self._last_frame = 0.0  # loop time of the latest frame (or of the start)
        self._idle_timer: asyncio.TimerHandle | None = None
        self._idle = False  # the idle timer ended the read
        self._context = LocalContext()
        # the context's history as the ranker searches it (sorted once per change)
        self._history_of: tuple[HistoryEntry, ...] = ()
        self._history = PrefixHistory()
        self._refreshing: asyncio.Task[None] | None = None
        self._writes: asyncio.Queue[_Write] = asyncio.Queue(MAX_QUEUED_WRITES)
        self._writer: asyncio.Task[None] | None = None
        self._hidden: set[str] = set()  # forgotten on this connection, until submitted again
        self._counted: set[str] = set()  # fresh counts: one per query per connection

    @property
    def _user(self) -> str | None:
        """The verified user whose history this connection reads and writes (None: nobody's:
        an anonymous connection never touches anyone's history)."""
        return self.identity.user

    def _idle_check(self) -> None:
        """The idle timer: close a socket silent for `idle_timeout_s` (4408).

        One timer per connection, moved on only when it fires: a frame just records its time,
        where a timeout around every read would schedule and cancel a timer per frame.
        """
        loop = asyncio.get_running_loop()
        due = self._last_frame + self.services.idle_timeout_s
        if loop.time() < due or self.phase is not Phase.READING or self._reader is None:
            # a frame came meanwhile, or one is being answered: look again when it would be due
            self._idle_timer = loop.call_at(max(due, loop.time() + 0.001), self._idle_check)
            return
        if not self.draining:
            self._idle = True
            self._reader.cancel()  # only ever interrupts `receive()`; see `run`

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
        """Serve frames until the client leaves, a close, or a drain."""
        reader = self._reader = asyncio.current_task()
        assert reader is not None
        self._refresh()  # the first read, while the user has not typed yet
        loop = asyncio.get_running_loop()
        self._last_frame = loop.time()
        self._idle_timer = loop.call_at(
            self._last_frame + self.services.idle_timeout_s, self._idle_check
        )
        close: tuple[int, str] | None = None
        try:
            while not self.draining and close is None:
                self.phase = Phase.READING
                try:
                    message = await self.channel.receive()
                    self._last_frame = loop.time()
                except asyncio.CancelledError:
                    if not (self.draining or self._idle):
                        raise
                    reader.uncancel()  # our own cancel, from `drain` or `_idle_check`
                    if not self.draining:
                        self.services.metrics.closes.labels("idle").inc()
                        close = (CLOSE_IDLE, "idle timeout")
                    break
                finally:
                    if self.phase is Phase.READING:
                        self.phase = Phase.HANDLING
                if message["type"] == "websocket.disconnect":
                    self._disconnected = True
                    break
                try:
                    close = await self._on_message(message)
                except Exception:  # noqa: BLE001 - no frame may kill the handler
                    _logs.log(logging.ERROR, "frame", "frame handling failed", exc_info=True)
                    self.services.metrics.errors.labels("unavailable").inc()
                    await self._send(error_frame(None, "unavailable", "this frame failed"))
            if self.draining and close is None:
                close = (CLOSE_GOING_AWAY, "server shutting down")
                self.services.metrics.closes.labels("drain").inc()
        finally:
            self.phase = Phase.CLOSED
            if self._idle_timer is not None:
                self._idle_timer.cancel()
            await self._settle()
        if close is not None and not self._disconnected:
            try:
                await self.channel.close(*close)
            except (RuntimeError, OSError):  # the client left first
                pass

    async def _settle(self) -> None:
        """Let in-flight completes finish when draining (cancel them otherwise); let queued
        writes reach the store either way, within the drain deadline."""
        timeout_s = self.services.drain_timeout_s
        pending = {t for t in self._tasks if not t.done()}
        if pending and self.draining and not self._disconnected:
            _, pending = await asyncio.wait(pending, timeout=timeout_s)
        for task in pending:
            task.cancel()
        if self._refreshing is not None:
            self._refreshing.cancel()
        writer = self._writer
        if writer is not None and not writer.done():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout_s):
                    await self._writes.join()
            writer.cancel()

    async def _on_message(self, message: MutableMapping[str, Any]) -> tuple[int, str] | None:
        """Serve one frame; a (code, reason) result closes the connection."""
        m = self.services.metrics
        clients = self.services.clients
        client_ok = clients is None or clients.allow_frame(self.identity.peer.address)
        verdict = self._guard.check(client_ok)
        if verdict is not Verdict.ALLOW:
            m.errors.labels("rate_limited").inc()
            if verdict is Verdict.CLOSE:
                m.rate_limit_closes.inc()
                m.closes.labels("flood").inc()
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
            m.request_of["invalid"].inc()
            m.errors.labels(exc.code).inc()
            await self._send(error_frame(exc.request_id, exc.code, exc.message))
            return None if exc.close_code is None else (exc.close_code, exc.code)

        if isinstance(request, CompleteRequest):
            m.request_of["complete"].inc()
            self._start_complete(request)
        elif isinstance(request, ForgetRequest):
            m.request_of["forget"].inc()
            self._context.forgotten(request.query)
            if request.query is not None and len(self._hidden) < MAX_TRACKED_QUERIES:
                self._hidden.add(request.query)
            await self._write(request)
        else:
            m.request_of["submit"].inc()
            self._context.submitted(
                request.query, self.services.wall_clock(), personal=self._user is not None
            )
            self._hidden.discard(request.query)
            await self._write(request)
        return None

    def _start_complete(self, request: CompleteRequest) -> None:
        """Answer in a task of its own, so the next frame is read meanwhile (a newer
        keystroke supersedes this one while it waits for the context's first read)."""
        self._latest += 1
        task = asyncio.create_task(self._complete(request, self._latest, self.services.clock()))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _complete(self, request: CompleteRequest, seq: int, started: float) -> None:
        s = self.services
        previous, history = await self._current_context()
        if seq != self._latest:  # a newer keystroke arrived meanwhile: newest wins
            s.metrics.superseded.inc()
            return
        if self._hidden:
            history = tuple(h for h in history if h.query not in self._hidden)
        if not request.prefix:
            items = s.on_focus(previous, history, request.k, self._hidden)
            await self._reply(request, items, started)
            return
        context = Context(previous, history, s.wall_clock())
        try:
            items = s.ranked(context, request.prefix, request.k)
        except Exception:
            _logs.log(
                logging.ERROR,
                "ranker",
                "ranker failed on a prefix of %d characters",
                len(request.prefix),
                exc_info=True,
            )
            s.metrics.errors.labels("unavailable").inc()
            await self._send(
                error_frame(
                    request.id, "unavailable", "completions are unavailable for this prefix"
                )
            )
            return
        await self._reply(request, items, started)

    async def _reply(
        self, request: CompleteRequest, items: list[Completion], started: float
    ) -> None:
        s = self.services
        took = s.clock() - started
        s.metrics.completion_latency.observe(took)
        await self._send(completions_frame(request.id, request.prefix, items, took * 1000.0))

    async def _current_context(self) -> tuple[tuple[str, ...], tuple[HistoryEntry, ...]]:
        """(previous queries, the user's history) from the local copy; waits for the first
        read at most the store's read budget, and starts a re-read when the copy is old."""
        ctx, s = self._context, self.services
        if ctx.loaded_at is None:
            task = self._refresh()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(task), s.gateway.read_timeout_s)
        elif s.clock() - ctx.loaded_at > s.context_refresh_s:
            self._refresh()
        if ctx.history is not self._history_of:
            self._history_of, self._history = ctx.history, PrefixHistory(ctx.history)
        return ctx.previous, self._history

    def _refresh(self) -> asyncio.Task[None]:
        """Start a background re-read of the context (one at a time)."""
        if self._refreshing is None or self._refreshing.done():
            self._refreshing = asyncio.create_task(self._reread())
        return self._refreshing

    async def _reread(self) -> None:
        s, version = self.services, self._context.version
        context = await s.gateway.context(self.identity.session, self._user, s.context_timeout_s)
        self._context.replace(context, version, s.clock())

    async def _write(self, request: SubmitRequest | ForgetRequest) -> None:
        """Queue a store write; the writer acks it. A full queue is refused at once."""
        try:
            self._writes.put_nowait((request, self._context.version))
        except asyncio.QueueFull:
            await self._send(ack_frame(request.id, False))
            return
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_loop())

    async def _write_loop(self) -> None:
        while True:
            request, _ = await self._writes.get()
            try:
                await self._store(request)
            except Exception:  # noqa: BLE001 - the next write must still run
                _logs.log(logging.ERROR, "write", "store write failed", exc_info=True)
                await self._send(ack_frame(request.id, False))
            finally:
                self._writes.task_done()

    async def _store(self, request: SubmitRequest | ForgetRequest) -> None:
        s, session = self.services, self.identity.session
        try:
            if isinstance(request, ForgetRequest):
                fresh = None
                if s.fresh is not None:
                    fresh = (s.fresh.counts, s.fresh.contributor(self.identity)[0])
                stored = await s.gateway.forget(session, self._user, request.query, fresh)
            else:
                stored = await s.gateway.remember(session, self._user, request.query)
                if stored:
                    await self._count_fresh(request.query)
        except StoreRejected as exc:
            s.metrics.errors.labels("bad_request").inc()
            await self._send(error_frame(request.id, "bad_request", str(exc)))
            return
        await self._send(ack_frame(request.id, stored))

    async def _count_fresh(self, query: str) -> None:
        """Count a stored submit for fresh completions. Blocked queries are never counted;
        the store counts each identity once per query per window, and this connection does
        not even ask twice."""
        s, counted = self.services, self._counted
        if s.fresh is None or query in counted or len(counted) >= MAX_TRACKED_QUERIES:
            return
        if s.blocks is not None and s.blocks(query):
            return
        counted.add(query)
        await s.fresh.count(query, self.identity)

    async def _send(self, text: str) -> bool:
        if self._disconnected:
            return False
        m = self.services.metrics
        try:
            await self.channel.send_text(text)
        except UnicodeEncodeError:
            m.send_failures.labels("encoding").inc()
            _logs.log(logging.ERROR, "encoding", "a reply could not be encoded; not sent")
            with contextlib.suppress(Exception):  # tell the client something went wrong
                await self.channel.send_text(
                    error_frame(None, "unavailable", "a reply could not be encoded")
                )
            return False
        except Exception as exc:  # noqa: BLE001 - any other failure means the client is gone
            self._disconnected = True
            m.send_failures.labels("disconnected").inc()
            _logs.log(
                logging.INFO, "send", "reply not sent, the client is gone: %s", type(exc).__name__
            )
            return False
        return True
