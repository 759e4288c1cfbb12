"""Recent searches (an empty prefix) and `forget`, over real sockets and real stores.

An empty prefix answers from the store: this session's queries newest first, then the user's
personal history by last use. `forget` removes one query (or everything, `"all": true`) from
the session and the user's history and acks whether the store kept the change.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
import redis
from websockets.asyncio.client import ClientConnection

from autocomplete.loader import load_index
from autocomplete.ranking import ANONYMOUS
from tests.credentials import as_user
from tests.live_server import LiveServer
from tests.redis_server import RedisServer

from .client import DEADLINE_S, ask, complete, ws_session

pytestmark = pytest.mark.anyio


async def submit(ws: ClientConnection, query: str, request_id: int = 100) -> dict[str, Any]:
    reply = await ask(ws, {"type": "submit", "id": request_id, "query": query})
    assert reply == {"type": "ack", "id": request_id, "stored": True}, reply
    return reply


async def forget(ws: ClientConnection, request_id: int = 200, **what: Any) -> dict[str, Any]:
    return await ask(ws, {"type": "forget", "id": request_id, **what})


async def recent(ws: ClientConnection, k: int = 10, request_id: int = 300) -> list[str]:
    """The recent searches an empty prefix lists; [] when there are none (the reply then
    lists the index's most popular queries instead, as a new visitor sees on focus)."""
    reply = await complete(ws, "", request_id=request_id, k=k)
    assert reply["prefix"] == ""
    items = reply["items"]
    assert all(item["match"] == [0, 0] for item in items), items
    if {item["source"] for item in items} == {"index"}:
        assert len(items) == k, "the popular queries fill the list"
        return []
    assert all(item["source"] == "history" for item in items), items
    return [item["text"] for item in items]


async def test_an_empty_prefix_lists_the_sessions_queries_newest_first(
    built_sample_index: Path,
) -> None:
    with LiveServer(built_sample_index) as live:
        async with ws_session(live.ws_url) as (ws, _):
            assert await recent(ws) == [], "a new session has nothing to show"
            for query in ("Cheap Flights", "weather", "google earth", "weather"):
                await submit(ws, query)
            assert await recent(ws) == ["weather", "google earth", "cheap flights"]
            assert await recent(ws, k=2) == ["weather", "google earth"]
            typed = await complete(ws, "wea", k=5)
            assert all(i["source"] == "index" for i in typed["items"]), "typing still ranks"
        async with ws_session(live.ws_url) as (ws, _):
            assert await recent(ws) == [], "another session (no user) sees none of it"


async def test_a_session_with_no_searches_is_shown_the_most_popular_queries_on_focus(
    built_sample_index: Path, tmp_path: Path
) -> None:
    popular = [c.text for c in load_index(built_sample_index).mpc.complete(ANONYMOUS, "", 6)]
    rules = tmp_path / "blocklist.txt"
    rules.write_text(popular[1] + "\n")
    with LiveServer(built_sample_index, env={"QAC_BLOCKLIST": str(rules)}) as live:
        async with ws_session(live.ws_url) as (ws, _):
            reply = await complete(ws, "", k=5)
            assert [i["text"] for i in reply["items"]] == [popular[0], *popular[2:6]], (
                "most popular first, blocked ones left out, still k of them"
            )
            assert {i["source"] for i in reply["items"]} == {"index"}
            await submit(ws, "weather")
            assert await recent(ws) == ["weather"], "once it has searched, its own come back"


async def test_a_users_history_follows_the_session_and_forget_removes_from_both(
    built_sample_index: Path,
) -> None:
    with LiveServer(built_sample_index) as live:
        async with ws_session(as_user(live.ws_url, "ann")) as (ws, _):
            for query in ("cheap flights", "weather", "google earth"):
                await submit(ws, query)
        async with ws_session(as_user(live.ws_url, "ann")) as (ws, _):
            await submit(ws, "maps")
            assert await recent(ws) == ["maps", "google earth", "weather", "cheap flights"]

            assert await forget(ws, query="Weather") == {"type": "ack", "id": 200, "stored": True}
            assert await recent(ws) == ["maps", "google earth", "cheap flights"]
            assert await forget(ws, 201, query="maps") == {"type": "ack", "id": 201, "stored": True}
            assert await recent(ws) == ["google earth", "cheap flights"]

            assert await forget(ws, 202, all=True) == {"type": "ack", "id": 202, "stored": True}
            assert await recent(ws) == []
        async with ws_session(as_user(live.ws_url, "ann")) as (ws, _):
            assert await recent(ws) == [], "the user's history is gone for every session"
            await submit(ws, "weather")
            assert await recent(ws) == ["weather"], "forgetting is not a ban: it can come back"


async def test_a_malformed_forget_is_a_bad_request_and_the_connection_goes_on(
    built_sample_index: Path,
) -> None:
    with LiveServer(built_sample_index) as live:
        async with ws_session(live.ws_url) as (ws, _):
            error = await forget(ws, 5)
            assert error["type"] == "error" and error["id"] == 5
            assert error["code"] == "bad_request"
            assert (await complete(ws, "goo"))["items"]
        assert 'qac_requests_total{type="forget"} 0.0' in live.metrics()


async def test_a_forgotten_query_stops_being_a_personal_suggestion_on_the_same_connection(
    blend_index_dir: Path,
) -> None:
    """The blended ranker suggests the user's own queries (`source: history`); the
    connection caches that history between submits, so a forget must drop the cache."""
    mine = "google maps for my street"
    with LiveServer(blend_index_dir) as live:
        async with ws_session(as_user(live.ws_url, "bob")) as (ws, _):
            await submit(ws, mine)
            await submit(ws, "weather")
            first = (await complete(ws, "goo", request_id=1, k=10))["items"][0]
            assert (first["text"], first["source"]) == (mine, "history")

            assert (await forget(ws, query=mine))["stored"] is True
            items = (await complete(ws, "goo", request_id=2, k=10))["items"]
            assert mine not in [i["text"] for i in items]
            assert await recent(ws) == ["weather"]
        async with ws_session(as_user(live.ws_url, "bob")) as (ws, _):
            items = (await complete(ws, "goo", request_id=3, k=10))["items"]
            assert mine not in [i["text"] for i in items]
            assert await recent(ws) == ["weather"]


async def test_blocked_words_are_kept_out_of_personal_and_generated_items(
    blend_index_dir: Path, tmp_path: Path
) -> None:
    rules = tmp_path / "blocklist.txt"
    rules.write_text("street\ngood\n")
    with LiveServer(blend_index_dir, env={"QAC_BLOCKLIST": str(rules)}) as live:
        async with ws_session(as_user(live.ws_url, "eve")) as (ws, _):
            await submit(ws, "google maps for my street")
            await submit(ws, "google earth")
            items = (await complete(ws, "goo", request_id=1, k=10))["items"]
            texts = [i["text"] for i in items]
            assert len(texts) == 10
            assert not [t for t in texts if "street" in t.split() or "good" in t.split()]
            assert {i["source"] for i in items} >= {"history", "generated"}
            assert await recent(ws) == ["google earth"], "recent searches are filtered too"


@pytest.mark.redis
async def test_forget_reaches_redis_and_acks_stored_false_while_it_is_down(
    built_sample_index: Path, own_persistent_redis: RedisServer
) -> None:
    own_redis_server = own_persistent_redis  # its data survives the stop and start below
    with LiveServer(built_sample_index, redis_url=own_redis_server.url) as live:
        async with ws_session(as_user(live.ws_url, "u-r")) as (ws, hello):
            session_key = f"qac:user:{{u-r}}:sess:{hello['session']}"
            for query in ("cheap flights", "weather", "maps"):
                await submit(ws, query)
            assert await recent(ws) == ["maps", "weather", "cheap flights"]
            assert (await forget(ws, query="weather"))["stored"] is True
            client = redis.Redis.from_url(own_redis_server.url, decode_responses=True)
            with client:
                assert client.lrange(session_key, 0, -1) == ["maps", "cheap flights"]
                assert set(client.zrange("qac:user:{u-r}", 0, -1)) == {"maps", "cheap flights"}
                assert set(client.hkeys("qac:user:{u-r}:count")) == {"maps", "cheap flights"}
            assert await recent(ws) == ["maps", "cheap flights"]

            own_redis_server.stop()
            assert await forget(ws, 201, query="maps") == {
                "type": "ack",
                "id": 201,
                "stored": False,
            }
            assert await recent(ws) == ["cheap flights"], (
                "no store, and no error: the connection still knows its own session"
            )
            assert (await forget(ws, 202, all=True))["stored"] is False
            assert await recent(ws) == []

            own_redis_server.start()
            async with asyncio.timeout(DEADLINE_S):
                while live.healthz()["status"] != "ok":
                    await asyncio.sleep(0.02)
            shown = await recent(ws)
            assert "maps" not in shown and "weather" not in shown, (
                "the connection that asked keeps hiding what it could not forget"
            )
            resume = as_user(live.ws_url, "u-r", session=hello["session"])
            async with asyncio.timeout(DEADLINE_S):  # until the breaker has probed the store
                while True:
                    async with ws_session(resume) as (other, _):
                        if await recent(other) == ["maps", "cheap flights"]:
                            break  # stored:false meant it: the store still has them
                    await asyncio.sleep(0.05)
            assert (await forget(ws, 203, all=True))["stored"] is True
            assert await recent(ws) == []
            with client:
                assert client.exists(session_key, "qac:user:{u-r}", "qac:user:{u-r}:count") == 0
