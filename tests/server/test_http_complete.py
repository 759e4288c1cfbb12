"""`GET /v1/complete`: the completions frame over plain HTTP, anonymous, under the WebSocket's
rules (validation, client budget, blocklist, origins)."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from autocomplete.loader import LoadedIndex
from autocomplete.ranking import ANONYMOUS
from autocomplete.server.app import create_app
from autocomplete.server.config import ServerConfig
from autocomplete.server.http_complete import MAX_PREV
from session_store.base import StoreConfig
from session_store.memory import MemoryStore
from tests.live_server import free_port
from tests.protocol_schema import validate_http_body

from .client import complete, ws_session
from .fakes import ContextEchoRanker
from .inprocess import InProcessServer

pytestmark = pytest.mark.anyio

SITE = "https://shop.example"


class WatchedStore(MemoryStore):
    """Records every call that could read or write someone's session or history."""

    def __init__(self) -> None:
        super().__init__(StoreConfig())
        self.calls: list[str] = []

    async def recent(self, *args: Any, **kwargs: Any) -> list[str]:
        self.calls.append("recent")
        return await super().recent(*args, **kwargs)

    async def append(self, *args: Any, **kwargs: Any) -> None:
        self.calls.append("append")
        await super().append(*args, **kwargs)

    async def user_history(self, *args: Any, **kwargs: Any) -> Any:
        self.calls.append("user_history")
        return await super().user_history(*args, **kwargs)

    async def record_user(self, *args: Any, **kwargs: Any) -> None:
        self.calls.append("record_user")
        await super().record_user(*args, **kwargs)


def client_for(
    index: LoadedIndex, store: MemoryStore | None = None, **settings: Any
) -> httpx.AsyncClient:
    settings.setdefault("allowed_origins", (SITE,))
    config = ServerConfig(index="unused", **settings)
    app = create_app(config, index, store or MemoryStore(StoreConfig()))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://qac.test")


@pytest.fixture
async def client(sample_index) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(sample_index) as c:
        yield c


async def get(client: httpx.AsyncClient, status: int = 200, **params: Any) -> dict[str, Any]:
    response = await client.get("/v1/complete", params=params)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body: dict[str, Any] = response.json()
    validate_http_body(body)
    return body


async def test_answers_the_completions_frame_of_the_prefix(client, sample_index) -> None:
    body = await get(client, prefix="  Goo", k=5)
    expected = [c.text for c in sample_index.mpc.complete(ANONYMOUS, "goo", 5)]
    assert (body["type"], body["id"], body["prefix"]) == ("completions", None, "goo")
    assert [i["text"] for i in body["items"]] == expected
    assert all(i["match"] == [0, 3] and i["source"] == "index" for i in body["items"])


async def test_answers_what_the_websocket_answers(sample_index) -> None:
    config = ServerConfig(index="unused", port=free_port())
    app = create_app(config, sample_index, MemoryStore(StoreConfig()))
    with InProcessServer(app, config) as server:
        base = f"http://127.0.0.1:{server.port}"
        async with httpx.AsyncClient(base_url=base) as http, ws_session(server.ws_url) as (ws, _):
            for prefix in ("g", "new ", "www.", "zzzzqq"):
                over_ws = await complete(ws, prefix, k=7)
                over_http = await http.get("/v1/complete", params={"prefix": prefix, "k": 7})
                assert over_http.json()["items"] == over_ws["items"], prefix


async def test_prev_is_the_callers_own_context(sample_index) -> None:
    ranker = ContextEchoRanker()
    index = dataclasses.replace(sample_index, ranker=ranker)
    async with client_for(index) as c:
        body = await get(c, prefix="w", prev=["Cheap  Flights", "maps"])
        assert body["items"][0]["text"] == "w after maps"
        assert ranker.calls[-1][0] == ("cheap flights", "maps"), "normalised, oldest first"


async def test_it_never_reads_or_writes_anyones_history(sample_index) -> None:
    store = WatchedStore()
    async with client_for(sample_index, store) as c:
        await get(c, prefix="goo", prev="weather")
        await get(c, prefix="")
        await c.get("/v1/complete", params={"prefix": "goo"}, headers={"Cookie": "qac_session=a"})
    assert store.calls == []


async def test_an_empty_prefix_gets_the_most_popular_queries(client, sample_index) -> None:
    body = await get(client, prefix="", prev="weather", k=4)
    assert [i["text"] for i in body["items"]] == [
        c.text for c in sample_index.mpc.complete(ANONYMOUS, "", 4)
    ]


async def test_k_is_clamped_to_the_limit_and_defaults_like_the_websocket(sample_index) -> None:
    async with client_for(sample_index, default_k=3, max_k=8) as c:
        assert len((await get(c, prefix="g"))["items"]) == 3
        assert len((await get(c, prefix="g", k=50))["items"]) == 8


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({}, "parameter 'prefix' must be given once"),
        ({"prefix": ["a", "b"]}, "parameter 'prefix' must be given once"),
        ({"prefix": "a", "k": "0"}, "field 'k' must be an integer >= 1"),
        ({"prefix": "a", "k": "ten"}, "field 'k' must be an integer >= 1"),
        ({"prefix": "a", "k": "2.5"}, "field 'k' must be an integer >= 1"),
        ({"prefix": "a", "k": ["1", "2"]}, "parameter 'k' must be given at most once"),
        ({"prefix": "a" * 201}, "the limit is 200"),
        ({"prefix": "x" * 10_000}, "10000 characters"),
        ({"prefix": "e" + "\u0301" * 31}, "combining marks in a row"),
        ({"prefix": "a", "prev": " \x00 "}, "field 'prev' is empty after normalisation"),
        ({"prefix": "a", "prev": "q" * 501}, "field 'prev' is 501 characters"),
        ({"prefix": "a", "prev": ["q"] * (MAX_PREV + 1)}, f"at most {MAX_PREV} 'prev'"),
    ],
)
async def test_bad_input_is_a_400_with_the_websockets_message(client, params, message) -> None:
    body = await get(client, 400, **params)
    assert (body["type"], body["code"], body["id"]) == ("error", "bad_request", None)
    assert message in body["message"]


async def test_it_spends_the_client_addresss_frame_budget(sample_index) -> None:
    async with client_for(sample_index, client_rate_per_s=0.001, client_rate_burst=3) as c:
        for _ in range(3):
            await get(c, prefix="g")
        response = await c.get("/v1/complete", params={"prefix": "g"})
        assert response.status_code == 429 and response.headers["retry-after"] == "1"
        assert response.json()["code"] == "rate_limited"
        validate_http_body(response.json())


async def test_blocked_queries_are_never_answered(sample_index, tmp_path: Path) -> None:
    top = sample_index.mpc.complete(ANONYMOUS, "g", 1)[0].text
    rules = tmp_path / "blocklist.txt"
    rules.write_text(top + "\n")
    async with client_for(sample_index, blocklist=str(rules)) as c:
        texts = [i["text"] for i in (await get(c, prefix="g", k=10))["items"]]
        assert top not in texts and len(texts) == 10


async def test_allowed_origins_may_read_it_others_are_refused(client) -> None:
    ok = await client.get("/v1/complete", params={"prefix": "g"}, headers={"Origin": SITE})
    assert ok.status_code == 200 and ok.headers["access-control-allow-origin"] == SITE
    own = await client.get(
        "/v1/complete", params={"prefix": "g"}, headers={"Origin": "http://qac.test"}
    )
    assert own.status_code == 200
    evil = await client.get(
        "/v1/complete", params={"prefix": "g"}, headers={"Origin": "https://evil.example"}
    )
    assert evil.status_code == 403 and "access-control-allow-origin" not in evil.headers
    assert evil.json()["message"] == "origin not allowed"


async def test_answers_are_not_cached(client) -> None:
    response = await client.get("/v1/complete", params={"prefix": "g"})
    assert response.headers["cache-control"] == "no-store"
