"""Fresh completions: what people submit becomes a completion for everyone within seconds,
without an index rebuild, but only once enough distinct people sent it (k-anonymity), each
counted once however often they press Enter; with Redis the counts outlive a restart.

Waits poll with a deadline (the refresh period is a setting; tests shorten it). To show that
something does *not* appear, a control query is released afterwards: once the snapshot holds
the control, it has seen everything submitted before it.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
import redis
from websockets.asyncio.client import ClientConnection

from autocomplete.server.assemble import PROMOTE_AT, PROMOTE_COUNT
from tests.credentials import as_user
from tests.live_server import LiveServer
from tests.redis_server import RedisServer

from .client import DEADLINE_S, ask, complete, ws_session

pytestmark = pytest.mark.anyio

FAST = {"QAC_FRESH_REFRESH_S": "0.1"}
K = 3  # QAC_FRESH_MIN_USERS, the default
NEW = "xylophone tuning tips"  # no query of the sample log starts with "xylo"
CONTROL = "zyzzyva mating season"  # nor with "zyzz"


async def submit(ws: ClientConnection, query: str, times: int = 1) -> None:
    for i in range(times):
        reply = await ask(ws, {"type": "submit", "id": i, "query": query})
        assert reply["stored"] is True, reply


async def submit_by_users(url: str, query: str, users: list[str]) -> None:
    for user in users:
        async with ws_session(as_user(url, user)) as (ws, _):
            await submit(ws, query)


async def until_fresh(ws: ClientConnection, prefix: str, text: str, k: int = 5) -> list[dict]:
    """The first reply for `prefix` that offers `text` as a fresh item."""
    async with asyncio.timeout(DEADLINE_S):
        n = 0
        while True:
            n += 1
            items: list[dict[str, Any]] = (await complete(ws, prefix, n, k=k))["items"]
            if any(i["text"] == text and i["source"] == "fresh" for i in items):
                return items
            await asyncio.sleep(0.05)


async def settled(url: str, ws: ClientConnection, tag: str) -> None:
    """Release a control query and wait until `ws` is offered it (see the module doc)."""
    control = f"{CONTROL} {tag}"
    await submit_by_users(url, control, [f"control-{tag}-{i}" for i in range(K)])
    await until_fresh(ws, "zyzz", control)


async def offered(ws: ClientConnection, prefix: str) -> list[str]:
    return [i["text"] for i in (await complete(ws, prefix, 999, k=10))["items"]]


@pytest.fixture
def live(built_sample_index: Path) -> Any:
    with LiveServer(built_sample_index, env=FAST) as server:
        yield server


async def test_one_users_query_never_reaches_anyone_else(live: LiveServer) -> None:
    await submit_by_users(live.ws_url, NEW, ["alice"])
    async with ws_session(as_user(live.ws_url, "bob")) as (ws, _):
        await settled(live.ws_url, ws, "a")
        assert NEW not in await offered(ws, "xylo")


async def test_after_k_distinct_users_submit_it_everyone_sees_it(live: LiveServer) -> None:
    await submit_by_users(live.ws_url, NEW, ["ann", "ben"])
    async with ws_session(live.ws_url) as (ws, _):
        await settled(live.ws_url, ws, "b")
        assert NEW not in await offered(ws, "xylo"), f"{K - 1} people are not enough"
        await submit_by_users(live.ws_url, NEW, ["cat"])
        items = await until_fresh(ws, "xylo", NEW)
        assert items == [{"text": NEW, "score": 0.0, "source": "fresh", "match": [0, 4]}]


async def test_a_burst_from_one_user_counts_once(live: LiveServer) -> None:
    for _ in range(3):  # three connections of the same user, each pressing Enter five times
        async with ws_session(as_user(live.ws_url, "spammer")) as (ws, _):
            await submit(ws, NEW, times=5)
    await submit_by_users(live.ws_url, NEW, ["helper"])
    async with ws_session(live.ws_url) as (ws, _):
        await settled(live.ws_url, ws, "c")
        assert NEW not in await offered(ws, "xylo"), "2 people, however many submits"


async def test_many_anonymous_connections_from_one_address_count_once(live: LiveServer) -> None:
    for _ in range(12):  # twelve anonymous tabs, all 127.0.0.1
        async with ws_session(live.ws_url) as (ws, _):
            await submit(ws, NEW)
    async with ws_session(live.ws_url) as (ws, _):
        await settled(live.ws_url, ws, "d")
        assert NEW not in await offered(ws, "xylo")


async def test_a_trending_query_is_promoted_into_a_full_reply(live: LiveServer) -> None:
    trending = "goo goo dolls iris"
    async with ws_session(live.ws_url) as (ws, _):
        ranked = [i["text"] for i in (await complete(ws, "goo", k=5))["items"]]
        assert len(ranked) == 5
        # one more than the threshold: counts decay from the moment of each submit
        people = [f"fan-{i}" for i in range(int(PROMOTE_COUNT) + 1)]
        await submit_by_users(live.ws_url, trending, people)
        items = await until_fresh(ws, "goo", trending)
        texts = [i["text"] for i in items]
        assert texts == ranked[:PROMOTE_AT] + [trending] + ranked[PROMOTE_AT:4]
        assert [i["score"] for i in items] == sorted((i["score"] for i in items), reverse=True)
        assert items[PROMOTE_AT]["match"] == [0, 3]


async def test_blocked_queries_are_never_counted_or_shown(
    built_sample_index: Path, tmp_path: Path
) -> None:
    rules = tmp_path / "blocklist.txt"
    rules.write_text("iris\n")
    env = {**FAST, "QAC_BLOCKLIST": str(rules)}
    with LiveServer(built_sample_index, env=env) as live:
        await submit_by_users(live.ws_url, "goo goo dolls iris", [f"fan-{i}" for i in range(5)])
        async with ws_session(live.ws_url) as (ws, _):
            await settled(live.ws_url, ws, "e")
            for prefix in ("goo", "goo goo", "goo goo dolls"):
                assert "goo goo dolls iris" not in await offered(ws, prefix)
        assert live.healthz()["fresh"]["queries"] == 1, "only the control was counted"


async def test_turning_fresh_off_leaves_replies_to_the_index(built_sample_index: Path) -> None:
    with LiveServer(built_sample_index, env={"QAC_FRESH_REFRESH_S": "0"}) as live:
        await submit_by_users(live.ws_url, NEW, ["a", "b", "c", "d"])
        async with ws_session(live.ws_url) as (ws, _):
            assert (await complete(ws, "xylo"))["items"] == []
        assert live.healthz()["fresh"] is None


@pytest.mark.redis
async def test_counts_in_redis_survive_a_server_crash_and_reach_every_worker(
    built_sample_index: Path, own_redis_server: RedisServer
) -> None:
    with LiveServer(
        built_sample_index, redis_url=own_redis_server.url, env=FAST, workers=2
    ) as live:
        await submit_by_users(live.ws_url, NEW, ["u1", "u2", "u3"])
        async with ws_session(live.ws_url) as (ws, _):
            await until_fresh(ws, "xylo", NEW)
        live.kill()
        live.start()
        for _ in range(4):  # fresh connections, spread over both new workers
            async with ws_session(live.ws_url) as (ws, _):
                items = await until_fresh(ws, "xylo", NEW)
                assert [i["text"] for i in items] == [NEW]


@pytest.mark.redis
async def test_forget_all_leaves_no_trace_in_any_redis_key_or_export(
    built_sample_index: Path, own_redis_server: RedisServer, tmp_path: Path
) -> None:
    secret = "my very private search"
    with LiveServer(built_sample_index, redis_url=own_redis_server.url, env=FAST) as live:
        for n in range(2):  # two sessions of hers, and two other people sending it too
            async with ws_session(as_user(live.ws_url, "hermione")) as (ws, _):
                await submit(ws, secret)
                await submit(ws, f"another thing {n}")
        await submit_by_users(live.ws_url, secret, ["ron", "harry"])
        async with ws_session(live.ws_url) as (ws, _):
            await until_fresh(ws, "my very", secret)  # three people: released
        async with ws_session(as_user(live.ws_url, "hermione")) as (ws, _):
            ack = await ask(ws, {"type": "forget", "id": 1, "all": True})
            assert ack == {"type": "ack", "id": 1, "stored": True}
        async with ws_session(live.ws_url) as (ws, _):
            await settled(live.ws_url, ws, "f")
            assert secret not in await offered(ws, "my very"), "two people left: withdrawn"

    client = redis.Redis.from_url(own_redis_server.url, decode_responses=True)
    with client:
        for key in client.scan_iter("*"):
            assert "hermione" not in key and "another thing" not in key, key
            kind = client.type(key)
            values: list[str] = []
            if kind == "list":
                values = client.lrange(key, 0, -1)
            elif kind == "zset":
                values = client.zrange(key, 0, -1)
            elif kind == "set":
                values = list(client.smembers(key))
            elif kind == "hash":
                values = list(client.hkeys(key))
            assert not any("another thing" in v for v in values), (key, values)
        assert secret not in client.zrange("qac:{fresh}", 0, -1)
    export = tmp_path / "fresh.tsv"
    from autocomplete.fresh_export import export_fresh

    await asyncio.to_thread(export_fresh, own_redis_server.url, export)
    assert secret not in export.read_text()
