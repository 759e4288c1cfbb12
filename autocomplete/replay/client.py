"""Replay one session over one WebSocket: type each query, wait for each answer, submit.

The server answers only the newest `complete` of a connection, so a keystroke is sent only
after the previous one was answered (or given up on): the replay measures every keystroke,
as `autocomplete evaluate` scores every keystroke. What can go wrong, and what is counted:

* `rate_limited` (the server's per-connection token bucket): back off, send it again, and
  pace later frames (`Pacer`); every refusal is counted under errors["rate_limited"].
* the connection closes (server restart, crash, drain): the keystroke in flight is lost
  (errors["disconnected"], scored as a miss); the client reconnects with the same session id
  under the `RECONNECT` backoff and types on. An unacknowledged submit is sent again after the
  reconnect: the session store ignores a repeat of the newest query, so this is safe.
* no reply within `reply_timeout_s`: lost (errors["timeout"]); a late reply is dropped by id.
* any other error frame: counted by its code, the keystroke scored as a miss.
Whether the session context survives a server restart is the session store's business (the
in-memory store loses it, Redis keeps it); the client does not re-send earlier queries.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from autocomplete.client import (
    ConnectFailed,
    ConnectionLost,
    QacClient,
    check_url,
    session_url,
)

from .errors import ServerGone
from .outcome import QueryOutcome, SessionOutcome
from .plan import SessionPlan
from .retry import RATE_LIMITED, RECONNECT, Backoff, Pacer

__all__ = ["ClientSettings", "ConnectFailed", "SessionReplay", "check_url", "session_url"]


@dataclass(frozen=True)
class ClientSettings:
    """k: completions asked for per keystroke (10 for MRR@10).
    reply_timeout_s: how long one request waits for its answer before it counts as lost.
    open_timeout_s: how long one connection attempt (TCP + handshake + hello) may take.
    typing_delay_s: least time between two keystrokes of a session (0: as fast as answered).
    reconnect, rate_limited: backoff policies for a closed connection and a refused frame.
    submit_attempts: sends of one submit across reconnects before it counts as not stored.
    """

    k: int = 10
    reply_timeout_s: float = 10.0
    open_timeout_s: float = 10.0
    typing_delay_s: float = 0.0
    reconnect: Backoff = RECONNECT
    rate_limited: Backoff = RATE_LIMITED
    submit_attempts: int = 3


class _Closed(Exception):
    """The connection closed before the answer came."""


class SessionReplay:
    """Replays one `SessionPlan`; `run()` returns its `SessionOutcome`.

    is_seen: whether a target is a label of the served index (for the "seen" set).
    progress: called with the number of keystrokes of each query once it is typed.
    """

    def __init__(
        self,
        url: str,
        plan: SessionPlan,
        settings: ClientSettings,
        is_seen: Callable[[str], bool],
        progress: Callable[[int], None] | None = None,
    ) -> None:
        self.url = url
        self.plan = plan
        self.settings = settings
        self.is_seen = is_seen
        self.progress = progress
        self.outcome = SessionOutcome(plan.index, plan.session_id, plan.user, settings.k)
        self._conn: QacClient | None = None
        self._session: str | None = None  # issued by the server on the first connect
        self._connected_once = False
        self._request_id = 0
        self._pacer = Pacer()
        self._last_send = 0.0

    async def run(self) -> SessionOutcome:
        try:
            for q in self.plan.queries:
                self.outcome.queries.append(QueryOutcome(q.query))
                seen = self.is_seen(q.query)
                for ex in q.keystrokes:
                    suggestions = await self._complete(ex.prefix)
                    self.outcome.score(
                        ex.prefix, ex.target, suggestions or (), seen, not ex.context
                    )
                await self._submit(q.query)
                if self.progress is not None and q.keystrokes:
                    self.progress(len(q.keystrokes))
        finally:
            if self._conn is not None:
                await self._conn.close()
                self._conn = None
        return self.outcome

    # -- connection -------------------------------------------------------------------------

    async def _ensure_open(self) -> QacClient:
        if self._conn is not None:
            return self._conn
        delays = self.settings.reconnect.delays()
        while True:
            try:
                conn = await QacClient.connect(
                    self.url,
                    session=self._session,
                    open_timeout_s=self.settings.open_timeout_s,
                    reply_timeout_s=self.settings.reply_timeout_s,
                )
            except ConnectFailed as exc:
                delay = None if exc.permanent else next(delays, None)
                if delay is None:
                    deadline_s = self.settings.reconnect.deadline_s
                    still = "" if exc.permanent else f" (still, after retrying for {deadline_s:g}s)"
                    raise ServerGone(f"{self.url}: {exc.reason}{still}") from None
                await asyncio.sleep(delay)
                continue
            if self._connected_once:
                self.outcome.reconnects += 1
            self._connected_once = True
            self._session = conn.session  # resumed on reconnects
            self.outcome.index_versions.add(str(conn.hello.frame.get("index")))
            self._conn = conn
            return conn

    async def _exchange(self, frame: dict[str, Any]) -> tuple[dict[str, Any], float]:
        """Send `frame`, return (its answer, round trip ms). Raises `_Closed`, `TimeoutError`.

        The answer is the frame with the same id, or an error without id (the server sends
        `rate_limited` before reading the frame's id); anything else is a stale answer to an
        earlier request that timed out, and is dropped (`QacClient.request`). Frames that are
        not JSON objects are counted as protocol errors.
        """
        conn = await self._ensure_open()
        malformed = conn.malformed
        t0 = time.perf_counter()
        try:
            msg = await conn.request(frame)
            return msg, (time.perf_counter() - t0) * 1000.0
        except ConnectionLost:
            self._conn = None
            await conn.close()
            raise _Closed from None
        finally:
            if conn.malformed > malformed:
                self.outcome.errors["protocol"] += conn.malformed - malformed

    def _next_id(self) -> int:
        self._request_id += 1
        return self._request_id

    async def _pace(self, keystroke: bool) -> None:
        """Wait out the typing delay (keystrokes only) and the rate-limit pacing."""
        gap = max(self.settings.typing_delay_s if keystroke else 0.0, self._pacer.interval_s)
        if gap > 0:
            wait = self._last_send + gap - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
        self._last_send = time.monotonic()

    async def _refused(self, waits: Iterator[float]) -> bool:
        """After a `rate_limited` answer: back off and say whether to send again."""
        self._pacer.refused()
        delay = next(waits, None)
        if delay is None:
            return False
        await asyncio.sleep(delay)
        self._last_send = time.monotonic()
        return True

    # -- requests ---------------------------------------------------------------------------

    async def _complete(self, prefix: str) -> list[str] | None:
        """The suggestions for one keystroke, or None when none came (counted)."""
        o = self.outcome
        waits = self.settings.rate_limited.delays()
        await self._pace(keystroke=True)
        while True:
            frame = {
                "type": "complete",
                "id": self._next_id(),
                "prefix": prefix,
                "k": self.settings.k,
            }
            try:
                msg, rtt_ms = await self._exchange(frame)
            except _Closed:
                o.errors["disconnected"] += 1
                o.lost += 1
                return None
            except TimeoutError:
                o.errors["timeout"] += 1
                o.lost += 1
                return None
            kind = msg.get("type")
            if kind == "completions" and isinstance(msg.get("items"), list):
                self._pacer.served()
                o.answered += 1
                o.rtt_ms.append(rtt_ms)
                took = msg.get("took_ms")
                if isinstance(took, int | float):
                    o.server_ms.append(float(took))
                if msg.get("prefix") != prefix:
                    o.errors["prefix_mismatch"] += 1  # server normalised it differently
                return [str(it.get("text")) for it in msg["items"] if isinstance(it, dict)]
            if kind == "error":
                code = str(msg.get("code") or "unknown")
                o.errors[code] += 1
                if code == "rate_limited" and await self._refused(waits):
                    continue
                return None
            o.errors["protocol"] += 1
            return None

    async def _submit(self, query: str) -> None:
        o = self.outcome
        o.submits += 1
        waits = self.settings.rate_limited.delays()
        sends = 0
        await self._pace(keystroke=False)
        while True:
            sends += 1
            try:
                msg, _ = await self._exchange(
                    {"type": "submit", "id": self._next_id(), "query": query}
                )
            except _Closed:
                o.errors["disconnected"] += 1
                if sends < self.settings.submit_attempts:
                    continue  # sent again on the next connection
                o.not_stored += 1
                return
            except TimeoutError:
                o.errors["timeout"] += 1
                o.not_stored += 1
                return
            kind = msg.get("type")
            if kind == "ack":
                self._pacer.served()
                if msg.get("stored") is not True:
                    o.not_stored += 1
                return
            if kind == "error":
                code = str(msg.get("code") or "unknown")
                o.errors[code] += 1
                if code == "rate_limited" and await self._refused(waits):
                    sends -= 1  # refused unread: not an attempt
                    continue
            else:
                o.errors["protocol"] += 1
            o.not_stored += 1
            return
