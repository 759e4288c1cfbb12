"""A small WebSocket test client: JSON frames in and out, every wait bounded by a deadline.

Every frame received is checked against the published protocol (docs/protocol/asyncapi.yaml,
`tests.protocol_schema`), so each test that talks to a server also checks the document.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.protocol_schema import validate_server_frame

#: Generous upper bound for one reply on a loaded 2-core machine; a deadline, not a timing.
DEADLINE_S = 10.0


@asynccontextmanager
async def ws_session(url: str, **options: Any) -> AsyncIterator[tuple[ClientConnection, dict]]:
    """An open connection and its `hello` frame."""
    options.setdefault("max_size", None)
    options.setdefault("ping_interval", None)
    async with connect(url, open_timeout=DEADLINE_S, **options) as ws:
        hello = await recv_json(ws)
        assert hello["type"] == "hello", hello
        yield ws, hello


async def recv_json(ws: ClientConnection, deadline_s: float = DEADLINE_S) -> dict[str, Any]:
    async with asyncio.timeout(deadline_s):
        frame = await ws.recv()
    assert isinstance(frame, str), f"expected a text frame, got {frame!r}"
    data: dict[str, Any] = json.loads(frame)
    validate_server_frame(data)
    return data


async def ask(ws: ClientConnection, frame: dict[str, Any] | str | bytes) -> dict[str, Any]:
    """Send one frame (a dict is JSON-encoded) and return the next frame received."""
    await ws.send(json.dumps(frame) if isinstance(frame, dict) else frame)
    return await recv_json(ws)


async def complete(ws: ClientConnection, prefix: str, request_id: int = 1, k: int = 5) -> dict:
    reply = await ask(ws, {"type": "complete", "id": request_id, "prefix": prefix, "k": k})
    assert reply["type"] == "completions", reply
    assert reply["id"] == request_id
    return reply


async def closed_with(ws: ClientConnection, deadline_s: float = DEADLINE_S) -> tuple[int, str]:
    """Wait for the server to close the connection (discarding frames); (code, reason)."""
    async with asyncio.timeout(deadline_s):
        try:
            while True:
                await ws.recv()
        except ConnectionClosed as closed:
            rcvd = closed.rcvd
            return (rcvd.code, rcvd.reason) if rcvd is not None else (1006, "")
    raise AssertionError("unreachable")


async def still_serves(url: str) -> None:
    """A fresh connection gets completions: the server is up and unaffected."""
    async with ws_session(url) as (ws, _):
        reply = await complete(ws, "goo", request_id=99)
        assert reply["items"], reply


async def still_serves_eventually(url: str) -> None:
    """Like `still_serves`, retrying while the handshake is refused (a slot not yet freed)."""
    async with asyncio.timeout(DEADLINE_S):
        while True:
            try:
                await still_serves(url)
                return
            except InvalidStatus:
                await asyncio.sleep(0.02)
