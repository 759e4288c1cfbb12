"""Graceful shutdown: in-flight replies are finished, sockets close with 1001, then exit."""

from __future__ import annotations

import asyncio
import json

import pytest

from tests.live_server import LiveServer

from .client import DEADLINE_S, closed_with, complete, recv_json, ws_session

pytestmark = pytest.mark.anyio


async def test_sigterm_closes_every_socket_with_1001_and_exits(built_sample_index) -> None:
    server = LiveServer(built_sample_index)
    with server:
        async with ws_session(server.ws_url) as (a, _), ws_session(server.ws_url) as (b, _):
            await complete(a, "goo")
            stopping = asyncio.create_task(asyncio.to_thread(server.stop))
            assert await closed_with(a) == (1001, "server shutting down")
            assert await closed_with(b) == (1001, "server shutting down")
            exit_status = await stopping
        assert exit_status in (0, -15), server.output()  # -15: uvicorn re-raises SIGTERM
        assert "Traceback" not in server.output()


async def test_shutdown_finishes_the_reply_in_flight_before_closing(held_server) -> None:
    server, store = held_server
    async with ws_session(server.ws_url) as (ws, _):
        store.hold.set()
        await ws.send(json.dumps({"type": "complete", "id": 7, "prefix": "goo"}))
        await asyncio.to_thread(store.entered.wait, DEADLINE_S)

        server.begin_shutdown()
        async with asyncio.timeout(DEADLINE_S):  # wait until the server asked us to drain
            while not all(c.draining for c in server.state.connections):
                await asyncio.sleep(0.005)
        store.release.set()

        reply = await recv_json(ws)
        assert reply["type"] == "completions" and reply["id"] == 7
        assert reply["items"][0]["text"] == "google"
        assert await closed_with(ws) == (1001, "server shutting down")
