"""Fresh completions: queries submitted through the server become completions within
seconds, without an index rebuild; with Redis their counts outlive a server restart.

Waits poll with a deadline (the refresh period is a setting; tests shorten it).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection

from autocomplete.server.assemble import PROMOTE_AT, PROMOTE_COUNT
from tests.live_server import LiveServer
from tests.redis_server import RedisServer

from .client import DEADLINE_S, ask, complete, ws_session

pytestmark = pytest.mark.anyio

FAST = {"QAC_FRESH_REFRESH_S": "0.1"}
NEW = "xylophone tuning tips"  # no query of the sample log starts with "xylo"


async def submit(ws: ClientConnection, query: str, times: int = 1) -> None:
    for i in range(times):
        reply = await ask(ws, {"type": "submit", "id": i, "query": query})
        assert reply["stored"] is True, reply


async def submit_by_many(url: str, query: str, people: int) -> None:
    """`people` connections submit `query` once each (a connection counts a query once)."""
    for n in range(people):
        async with ws_session(f"{url}?session=s-{n}") as (ws, _):
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


async def test_a_query_nobody_searched_before_completes_after_one_submit(
    built_sample_index: Path,
) -> None:
    with LiveServer(built_sample_index, env=FAST) as live:
        async with ws_session(live.ws_url) as (ws, _):
            assert (await complete(ws, "xylo"))["items"] == []
            await submit(ws, NEW)
        async with ws_session(live.ws_url) as (ws, _):  # another user, same worker
            items = await until_fresh(ws, "xylo", NEW)
            assert items == [{"text": NEW, "score": 0.0, "source": "fresh", "match": [0, 4]}]
        assert live.healthz()["fresh"]["queries"] == 1


async def test_a_trending_query_is_promoted_into_a_full_reply_but_a_single_submit_is_not(
    built_sample_index: Path,
) -> None:
    trending, once = "goo goo dolls iris", "goober peas"
    with LiveServer(built_sample_index, env=FAST) as live:
        async with ws_session(live.ws_url) as (ws, _):
            ranked = [i["text"] for i in (await complete(ws, "goo", k=5))["items"]]
            assert len(ranked) == 5
            await submit(ws, once)
            # one more than the threshold: counts decay from the moment of each submit
            await submit_by_many(live.ws_url, trending, int(PROMOTE_COUNT) + 1)
            items = await until_fresh(ws, "goo", trending)
            texts = [i["text"] for i in items]
            assert texts == ranked[:PROMOTE_AT] + [trending] + ranked[PROMOTE_AT:4]
            assert once not in texts, "one submit only fills room; this reply had none"
            assert [i["score"] for i in items] == sorted((i["score"] for i in items), reverse=True)
            assert items[PROMOTE_AT]["match"] == [0, 3]
            room = [i["text"] for i in await until_fresh(ws, "goob", once)]
            assert room == [once]


async def test_fresh_queries_pass_the_blocklist(built_sample_index: Path, tmp_path: Path) -> None:
    rules = tmp_path / "blocklist.txt"
    rules.write_text("iris\n")
    with LiveServer(built_sample_index, env={**FAST, "QAC_BLOCKLIST": str(rules)}) as live:
        async with ws_session(live.ws_url) as (ws, _):
            await submit_by_many(live.ws_url, "goo goo dolls iris", 5)
            await submit(ws, NEW)
            await until_fresh(ws, "xylo", NEW)  # the snapshot now holds both
            for prefix in ("goo", "goo goo", "goo goo dolls"):
                texts = [i["text"] for i in (await complete(ws, prefix, k=10))["items"]]
                assert "goo goo dolls iris" not in texts
            assert live.healthz()["fresh"]["queries"] == 2


async def test_turning_fresh_off_leaves_replies_to_the_index(built_sample_index: Path) -> None:
    with LiveServer(built_sample_index, env={"QAC_FRESH_REFRESH_S": "0"}) as live:
        async with ws_session(live.ws_url) as (ws, _):
            await submit(ws, NEW, times=3)
            assert (await complete(ws, "xylo"))["items"] == []
        assert live.healthz()["fresh"] is None


@pytest.mark.redis
async def test_counts_in_redis_survive_a_server_crash_and_reach_every_worker(
    built_sample_index: Path, own_redis_server: RedisServer
) -> None:
    with LiveServer(
        built_sample_index, redis_url=own_redis_server.url, env=FAST, workers=2
    ) as live:
        await submit_by_many(live.ws_url, NEW, 2)
        async with ws_session(live.ws_url) as (ws, _):
            await until_fresh(ws, "xylo", NEW)
        live.kill()
        live.start()
        for _ in range(4):  # fresh connections, spread over both new workers
            async with ws_session(live.ws_url) as (ws, _):
                items = await until_fresh(ws, "xylo", NEW)
                assert [i["text"] for i in items] == [NEW]


async def test_one_connection_repeating_a_query_counts_it_once(built_sample_index: Path) -> None:
    with LiveServer(built_sample_index, env=FAST) as live:
        async with ws_session(live.ws_url) as (ws, _):
            await submit(ws, "goo goo dolls iris", times=int(PROMOTE_COUNT) + 3)
            await submit(ws, NEW)
            await until_fresh(ws, "xylo", NEW)  # the snapshot has seen every submit
            texts = [i["text"] for i in (await complete(ws, "goo", k=5))["items"]]
            assert "goo goo dolls iris" not in texts, "not promoted: it counts as one"
        metrics = live.metrics()
        assert 'qac_store_operations_total{op="fresh_add"} 2.0' in metrics
