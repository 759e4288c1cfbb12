"""Redis failures while people type, against a real redis-server that tests stop and start.

Session context is a bonus: with Redis gone, completions go on without it, `/healthz` says
"degraded", metrics count the failures, submits are acked `stored: false`, and no error
reaches the user. With Redis back, the same server process uses it again.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from autocomplete.server.app import create_app
from autocomplete.server.config import ServerConfig
from session_store.base import StoreConfig, create_store
from tests.credentials import as_user
from tests.live_server import LiveServer, free_port
from tests.redis_server import RedisServer

from .client import DEADLINE_S, ask, complete, ws_session
from .fakes import ContextEchoRanker
from .inprocess import InProcessServer
from .metrics_text import sample

pytestmark = [pytest.mark.anyio, pytest.mark.redis]


def submit(query: str, request_id: int = 1) -> dict:
    return {"type": "submit", "id": request_id, "query": query}


async def wait_until_healthy(server: LiveServer) -> None:
    async with asyncio.timeout(DEADLINE_S):
        while server.healthz()["status"] != "ok":
            await asyncio.sleep(0.02)


async def test_submits_reach_redis_and_context_is_read_once_per_connection_not_per_keystroke(
    built_sample_index: Path, own_redis_server: RedisServer
) -> None:
    with LiveServer(built_sample_index, redis_url=own_redis_server.url) as live:
        assert live.healthz()["store"] == {"name": "redis", "reachable": True}
        before = live.metrics()
        async with ws_session(as_user(live.ws_url, "u-7")) as (ws, hello):
            assert await ask(ws, submit("Cheap Flights")) == {
                "type": "ack",
                "id": 1,
                "stored": True,
            }
            for i, prefix in enumerate(["w", "we", "wea"]):
                await complete(ws, prefix, request_id=i)
        client = redis.Redis.from_url(own_redis_server.url, decode_responses=True)
        with client:
            session_key = f"qac:user:{{u-7}}:sess:{hello['session']}"
            assert client.lrange(session_key, 0, -1) == ["cheap flights"]
            assert client.zrange("qac:user:{u-7}", 0, -1) == ["cheap flights"], (
                "a submit of an identified user also counts in the personal history"
            )
        after = live.metrics()
        for op, count in (("append", 1), ("record_user", 1), ("context", 1)):
            assert (
                sample(after, "qac_store_operations_total", op=op)
                - sample(before, "qac_store_operations_total", op=op)
            ) == count, op
        assert sample(after, "qac_store_failures_total", op="context") == 0


async def test_typing_goes_on_while_redis_is_down_and_recovers_without_restart(
    built_sample_index: Path, own_redis_server: RedisServer
) -> None:
    with LiveServer(built_sample_index, redis_url=own_redis_server.url) as live:
        pid = live.healthz()["details"]["pid"]
        async with ws_session(live.ws_url) as (ws, _):
            healthy = await complete(ws, "goo", request_id=0)

            own_redis_server.stop()
            for i, prefix in enumerate(["g", "go", "goo", "goog", "goo"], start=1):
                reply = await complete(ws, prefix, request_id=i)
                assert reply["items"], "completions continue without session context"
            assert reply["items"] == healthy["items"]
            assert await ask(ws, submit("google maps", 9)) == {
                "type": "ack",
                "id": 9,
                "stored": False,
            }

            health = live.healthz()
            assert health["http_status"] == 200
            assert health["status"] == "degraded"
            assert health["store"] == {"name": "redis", "reachable": False}
            async with ws_session(live.ws_url) as (newcomer, _):
                assert (await complete(newcomer, "goo"))["items"] == healthy["items"]
            text = live.metrics()
            assert sample(text, "qac_store_available") == 0
            assert sample(text, "qac_store_failures_total", op="append") == 1
            assert (
                sample(text, "qac_store_failures_total", op="context")
                + sample(text, "qac_store_skipped_reads_total")
            ) >= 1, "the newcomer's context read failed or was skipped"
            assert sample(text, "qac_errors_total", code="unavailable") == 0

            own_redis_server.start()
            await wait_until_healthy(live)
            assert await ask(ws, submit("google maps", 10)) == {
                "type": "ack",
                "id": 10,
                "stored": True,
            }
            assert (await complete(ws, "goo", request_id=11))["items"] == healthy["items"]
            assert sample(live.metrics(), "qac_store_available") == 1
        assert live.healthz()["details"]["pid"] == pid, "recovered in the same process"


async def test_the_server_starts_and_serves_with_redis_unreachable(built_sample_index) -> None:
    dead = f"redis://127.0.0.1:{free_port()}/0"
    with LiveServer(built_sample_index, redis_url=dead) as live:
        assert live.healthz()["status"] == "degraded"
        async with ws_session(live.ws_url) as (ws, _):
            assert (await complete(ws, "goo"))["items"]
            assert (await ask(ws, submit("x", 2)))["stored"] is False


@pytest.fixture
def context_server(sample_index, own_persistent_redis: RedisServer) -> Iterator[InProcessServer]:
    """The real app on a real socket and Redis, with a ranker that shows its context."""
    config = ServerConfig(
        index="unused", port=free_port(), store_retry_after_s=0.05, store_read_timeout_s=1.0
    )
    index = dataclasses.replace(sample_index, ranker=ContextEchoRanker())
    app = create_app(config, index, create_store(own_persistent_redis.url, StoreConfig()))
    with InProcessServer(app, config) as server:
        yield server


async def test_session_context_survives_on_its_connection_and_returns_to_others_with_redis(
    context_server: InProcessServer, own_persistent_redis: RedisServer
) -> None:
    async with ws_session(context_server.ws_url) as (ws, hello):
        resume = f"{context_server.ws_url}?session={hello['session']}"
        assert (await complete(ws, "w", 1))["items"][0]["text"] == "w after (none)"
        assert (await ask(ws, submit("Weather Boston", 2)))["stored"] is True
        assert (await complete(ws, "w", 3))["items"][0]["text"] == "w after weather boston"

        own_persistent_redis.stop()
        reply = await complete(ws, "w", 4)
        assert reply["items"][0]["text"] == "w after weather boston", (
            "the connection keeps its own copy while the store is down"
        )
        async with ws_session(resume) as (other, _):
            reply = await complete(other, "w", 1)
            assert reply["items"][0]["text"] == "w after (none)", "no context, and no error"

    own_persistent_redis.start()  # persistent: the session is still there
    async with asyncio.timeout(DEADLINE_S):
        while True:
            async with ws_session(resume) as (again, _):
                if (await complete(again, "w", 1))["items"][0]["text"] == "w after weather boston":
                    break
            await asyncio.sleep(0.05)


async def test_a_fresh_session_gets_no_context_from_another(context_server) -> None:
    async with ws_session(context_server.ws_url) as (a, _):
        await ask(a, submit("cats"))
        async with ws_session(context_server.ws_url) as (b, _):
            assert (await complete(b, "c"))["items"][0]["text"] == "c after (none)"
        assert (await complete(a, "c"))["items"][0]["text"] == "c after cats"
