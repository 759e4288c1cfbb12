"""Personal history as a user meets it: the real blended ranker, real uvicorn, real Redis.

A query the user submitted comes back as a `history` suggestion in their later sessions,
never for anyone else, survives a server restart when Redis keeps it, and quietly goes away
(no error) while the store is down.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.credentials import as_user
from tests.live_server import LiveServer
from tests.redis_server import RedisServer

from .client import DEADLINE_S, ask, complete, ws_session

pytestmark = [pytest.mark.anyio, pytest.mark.redis]

# Not a query of the sample's training part: only personal history can suggest it.
MINE = "zebra crossing laws in ohio"


@pytest.fixture
def redis_live(blend_index_dir: Path) -> Iterator[tuple[RedisServer, LiveServer]]:
    with RedisServer(persistent=True) as rs, LiveServer(blend_index_dir, redis_url=rs.url) as srv:
        yield rs, srv


def url(server: LiveServer, user: str | None) -> str:
    """A new session of `user` (None: anonymous)."""
    return as_user(server.ws_url, user) if user else server.ws_url


async def texts(server: LiveServer, user: str | None, prefix: str) -> list[dict]:
    async with ws_session(url(server, user)) as (ws, _):
        return list((await complete(ws, prefix, k=10))["items"])


async def submit(server: LiveServer, user: str, query: str) -> dict:
    async with ws_session(url(server, user)) as (ws, _):
        return await ask(ws, {"type": "submit", "id": 1, "query": query})


async def test_own_past_query_returns_in_a_later_session_and_to_no_one_else(redis_live) -> None:
    _, srv = redis_live
    assert not any(i["text"] == MINE for i in await texts(srv, "alice", "ze"))
    assert (await submit(srv, "alice", MINE))["stored"] is True
    later = await texts(srv, "alice", "ze")
    assert later[0]["text"] == MINE and later[0]["source"] == "history"
    assert all(i["text"] != MINE for i in await texts(srv, "bob", "ze"))
    assert all(i["text"] != MINE for i in await texts(srv, None, "ze"))


async def test_claiming_a_user_without_their_credential_reads_nothing_of_theirs(
    redis_live,
) -> None:
    _, srv = redis_live
    assert (await submit(srv, "alice", MINE))["stored"] is True
    for claim in ("?user=alice", "?token=not-a-token"):
        async with ws_session(srv.ws_url + claim) as (ws, hello):
            assert hello["auth"] == "anonymous"
            items = (await complete(ws, "", k=10))["items"]
            assert MINE not in [i["text"] for i in items], "no recent searches of alice's"
            items = (await complete(ws, "ze", k=10))["items"]
            assert MINE not in [i["text"] for i in items]


async def test_history_survives_a_server_restart_with_redis(redis_live) -> None:
    _, srv = redis_live
    assert (await submit(srv, "carol", MINE))["stored"] is True
    srv.stop()
    srv.start()
    items = await texts(srv, "carol", "zeb")
    assert items[0]["text"] == MINE and items[0]["source"] == "history"


async def test_store_down_means_no_personal_items_and_no_errors(redis_live) -> None:
    rs, srv = redis_live
    assert (await submit(srv, "dave", MINE))["stored"] is True
    rs.stop()
    async with asyncio.timeout(DEADLINE_S):
        items = await texts(srv, "dave", "ze")
    assert items and all(i["source"] != "history" for i in items)
    assert all(i["text"].startswith("ze") or i.get("corrected") for i in items)
    rs.start()
