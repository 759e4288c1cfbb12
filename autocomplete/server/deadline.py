"""Waiting for a dependency without cancelling it: a deadline that lets the call finish.

Cancelling a Redis command half-way makes the client drop that connection (it cannot know
where in the reply stream it stopped), so the next command opens a new one: under a slow Redis,
every missed deadline turned into a reconnect, and reconnects are what cost the server CPU.
`within` stops *waiting* at the deadline and lets the call run to its end in the background
(its result, or error, is dropped). The calls it is used for are themselves bounded by the
client's socket timeout, and the breaker stops new ones while the store is slow.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, TypeVar

T = TypeVar("T")
_orphans: set[asyncio.Future[Any]] = set()  # strong references until they finish


async def within(call: Awaitable[T], timeout_s: float) -> T:
    """The result of `call`, or `TimeoutError` after `timeout_s` (the call goes on)."""
    task = asyncio.ensure_future(call)
    try:
        done, _ = await asyncio.wait({task}, timeout=timeout_s)
    except asyncio.CancelledError:
        _orphan(task)  # our caller was cancelled; the call itself still completes cleanly
        raise
    if not done:
        _orphan(task)
        raise TimeoutError
    return task.result()


def _orphan(task: asyncio.Future[Any]) -> None:
    _orphans.add(task)
    task.add_done_callback(_settled)


def _settled(task: asyncio.Future[Any]) -> None:
    _orphans.discard(task)
    if not task.cancelled():
        task.exception()  # retrieved, so asyncio does not log "never retrieved"


def pending() -> int:
    """Calls still running after their caller stopped waiting (for metrics and tests)."""
    return len(_orphans)
