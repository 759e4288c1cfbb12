"""Two `autocomplete serve` processes sharing one Redis (a server, or a Redis Cluster), as
several hosts behind a load balancer would: a user whose connections land on either one finds
their session and history there, and what people submit reaches everyone through both.

Each hop is a new connection that presents the session id from the first `hello`, as the
widget does when it reconnects; both servers sign session ids with the same secret
(`LiveServer` sets `QAC_SESSION_SECRET` to one fixed test value), so each accepts the other's.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection

from tests.cluster_server import LocalCluster
from tests.credentials import as_user
from tests.live_server import LiveServer
from tests.redis_server import RedisServer

from .client import ask, complete, ws_session
from .test_fresh_live import FAST, NEW, offered, settled, submit_by_users, until_fresh

pytestmark = [pytest.mark.anyio, pytest.mark.redis]

BACKENDS = ["redis", pytest.param("cluster", marks=pytest.mark.cluster)]
# Not a query of the sample's training part: only personal history can suggest it.
MINE = "zebra crossing laws in ohio"


@pytest.fixture(scope="module", params=BACKENDS)
def servers(
    request: pytest.FixtureRequest, blend_index_dir: Path
) -> Iterator[tuple[LiveServer, LiveServer]]:
    """Two servers on different ports and one Redis, for every test of the module."""
    plain: RedisServer | None = None
    if request.param == "cluster":
        cluster: LocalCluster = request.getfixturevalue("redis_cluster")
        cluster.flush()
        url = cluster.url
    else:
        plain = RedisServer().start()
        url = plain.url
    try:
        with (
            LiveServer(blend_index_dir, redis_url=url, env=FAST) as one,
            LiveServer(blend_index_dir, redis_url=url, env=FAST) as two,
        ):
            assert one.port != two.port
            for server in (one, two):
                assert server.healthz()["store"] == {"name": "redis", "reachable": True}
            yield one, two
    finally:
        if plain is not None:
            plain.close()


async def submit(ws: ClientConnection, query: str, request_id: int = 100) -> None:
    reply = await ask(ws, {"type": "submit", "id": request_id, "query": query})
    assert reply == {"type": "ack", "id": request_id, "stored": True}, reply


async def recent(ws: ClientConnection) -> list[str]:
    """Recent searches (an empty prefix): the session's queries newest first, then history."""
    reply = await complete(ws, "", request_id=300, k=10)
    return [item["text"] for item in reply["items"]]


def url(server: LiveServer, user: str | None, session: str | None = None) -> str:
    if user is not None:
        return as_user(server.ws_url, user, session)
    return server.ws_url + (f"?session={session}" if session else "")


@pytest.mark.parametrize("user", ["walker", None], ids=["user", "anonymous"])
async def test_the_session_follows_its_user_from_server_to_server(
    servers: tuple[LiveServer, LiveServer], user: str | None
) -> None:
    one, two = servers
    who = user or "anonymous"
    async with ws_session(url(one, user)) as (ws, hello):
        session = hello["session"]
        assert (await complete(ws, "goo"))["items"]
        await submit(ws, f"cheap flights {who}")
    submitted = [f"cheap flights {who}"]
    for hop, server in enumerate([two, one, two, one]):
        async with ws_session(url(server, user, session)) as (ws, hello):
            assert hello["session"] == session, "the other server resumed the same session"
            assert await recent(ws) == submitted[::-1], f"hop {hop} to port {server.port}"
            submitted.append(f"weather {hop} {who}")
            await submit(ws, submitted[-1])


async def test_a_users_history_follows_them_to_every_server(
    servers: tuple[LiveServer, LiveServer],
) -> None:
    one, two = servers
    async with ws_session(as_user(one.ws_url, "hopper")) as (ws, _):
        await submit(ws, MINE)
    for server in (two, one):
        async with ws_session(as_user(server.ws_url, "hopper")) as (ws, _):  # a new session
            assert await recent(ws) == [MINE]
            items: list[dict[str, Any]] = (await complete(ws, "zeb", k=10))["items"]
            assert items[0]["text"] == MINE and items[0]["source"] == "history", items
    for server in (one, two):
        async with ws_session(as_user(server.ws_url, "someone else")) as (ws, _):
            assert MINE not in [i["text"] for i in (await complete(ws, "zeb", k=10))["items"]]


async def test_a_query_sent_by_enough_people_through_either_server_is_offered_by_both(
    servers: tuple[LiveServer, LiveServer],
) -> None:
    one, two = servers
    await submit_by_users(one.ws_url, NEW, ["fresh-0", "fresh-2"])
    await submit_by_users(two.ws_url, NEW, ["fresh-1"])
    for server in (one, two):
        async with ws_session(as_user(server.ws_url, "reader")) as (ws, _):
            await until_fresh(ws, "xylo", NEW)


async def test_one_person_counts_once_toward_fresh_whichever_server_they_use(
    servers: tuple[LiveServer, LiveServer],
) -> None:
    """Both servers key identities with the same secret, so the same user through two servers
    is one identity, not two: two people are still not a crowd."""
    one, two = servers
    query = "xylophone repair near me"
    await submit_by_users(one.ws_url, query, ["twice", "once"])
    await submit_by_users(two.ws_url, query, ["twice"])
    async with ws_session(as_user(two.ws_url, "reader")) as (ws, _):
        await settled(one.ws_url, ws, "several-servers")
        assert query not in await offered(ws, "xylo")
