"""Newest wins over a real socket: a keystroke superseded while it waits is never answered."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

import pytest

from .client import DEADLINE_S, complete, recv_json, ws_session

pytestmark = pytest.mark.anyio


async def until(predicate: Callable[[], bool]) -> None:
    async with asyncio.timeout(DEADLINE_S):
        while not predicate():
            await asyncio.sleep(0.005)


async def test_only_the_newest_of_several_pending_keystrokes_is_answered(held_server) -> None:
    server, store = held_server
    metrics = server.state.metrics
    store.hold.set()  # the connection's first context read (at connect) is held
    async with ws_session(server.ws_url) as (ws, _):
        await asyncio.to_thread(store.entered.wait, DEADLINE_S)
        await ws.send(json.dumps({"type": "complete", "id": 1, "prefix": "g"}))
        for request_id, prefix in ((2, "go"), (3, "goo")):
            await ws.send(json.dumps({"type": "complete", "id": request_id, "prefix": prefix}))
        await until(lambda: metrics.requests.labels("complete")._value.get() == 3)
        store.hold.clear()
        store.release.set()

        reply = await recv_json(ws)
        assert (reply["type"], reply["id"], reply["prefix"]) == ("completions", 3, "goo")
        await until(lambda: metrics.superseded._value.get() == 2)
        # Nothing else is on its way: the next frame is the answer to the next request.
        assert (await complete(ws, "goog", request_id=4))["id"] == 4
