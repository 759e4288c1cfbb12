"""Test doubles for the server's edges: a scriptable socket, store and rankers.

The connection logic is tested against these where a real socket cannot make an
interleaving deterministic (a store read that is still in flight when the next frame comes).
"""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

from autocomplete.ranking import Completion, Context
from session_store.base import StoreConfig
from session_store.errors import SessionStoreUnavailable
from session_store.memory import MemoryStore


class FakeChannel:
    """Frames to deliver go in `incoming`; what the connection sends lands in `sent`."""

    def __init__(self) -> None:
        self.incoming: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.sent: list[dict[str, Any]] = []
        self.closed: tuple[int, str | None] | None = None
        self.sent_event = asyncio.Event()

    def push(self, frame: dict[str, Any] | str | bytes) -> None:
        if isinstance(frame, bytes):
            self.incoming.put_nowait({"type": "websocket.receive", "bytes": frame})
        else:
            text = frame if isinstance(frame, str) else json.dumps(frame)
            self.incoming.put_nowait({"type": "websocket.receive", "text": text})

    def disconnect(self) -> None:
        self.incoming.put_nowait({"type": "websocket.disconnect", "code": 1000})

    async def receive(self) -> dict[str, Any]:
        return await self.incoming.get()

    async def send_text(self, data: str) -> None:
        self.sent.append(json.loads(data))
        self.sent_event.set()

    async def close(self, code: int = 1000, reason: str | None = None) -> None:
        self.closed = (code, reason)

    async def wait_sent(self, count: int) -> list[dict[str, Any]]:
        async with asyncio.timeout(10):
            while len(self.sent) < count:
                self.sent_event.clear()
                await self.sent_event.wait()
        return self.sent


class GatedStore(MemoryStore):
    """A memory store whose `recent` can be held until the test releases it, and which can
    be switched to failing like an unreachable Redis.

    Gates are `threading.Event`s so a test in another thread (or loop) can drive a server's
    store; waiting on them runs in the default executor, never blocking the event loop.
    """

    def __init__(self) -> None:
        super().__init__(StoreConfig())
        self.hold = threading.Event()  # set: `recent` waits for `release`
        self.release = threading.Event()
        self.entered = threading.Event()  # set once a held `recent` is waiting
        self.failing = False

    async def recent(self, session_id: str, user_id: str | None = None) -> list[str]:
        self._maybe_fail()
        if self.hold.is_set():
            self.entered.set()
            await asyncio.get_running_loop().run_in_executor(None, self.release.wait, 10)
        return await super().recent(session_id, user_id)

    async def append(self, session_id: str, query: str, user_id: str | None = None) -> None:
        self._maybe_fail()
        await super().append(session_id, query, user_id)

    async def ping(self) -> bool:
        return not self.failing

    def _maybe_fail(self) -> None:
        if self.failing:
            raise SessionStoreUnavailable("test store is down")


class ContextEchoRanker:
    """Shows what session context reached it: one item, `<prefix> after <previous query>`."""

    def __init__(self) -> None:
        self.calls: list[tuple[tuple[str, ...], str, int]] = []
        self.contexts: list[Context] = []

    def complete(self, context: Context, prefix: str, k: int = 10) -> list[Completion]:
        self.calls.append((context.previous, prefix, k))
        self.contexts.append(context)
        tail = context.previous[-1] if context.previous else "(none)"
        return [Completion(f"{prefix} after {tail}", 1.0, "index")]


class BrokenRanker:
    def complete(self, context: Context, prefix: str, k: int = 10) -> list[Completion]:
        raise RuntimeError("ranker bug")


class HistoryEchoRanker(ContextEchoRanker):
    """Shows the most recent entry of the user's history it got."""

    def complete(self, context: Context, prefix: str, k: int = 10) -> list[Completion]:
        super().complete(context, prefix, k)
        history = context.history
        mine = history[0].query if history else "(none)"
        return [Completion(f"{prefix} mine {mine}", 1.0, "history" if history else "index")]
