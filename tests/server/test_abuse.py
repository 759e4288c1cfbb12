"""Bad input and limits over a real socket, against a real `autocomplete serve` process.

Every test checks that the abusive connection gets a clear answer (an error frame, or a
close code that names the problem) and that a bystander connection, open the whole time,
is still served afterwards.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import InvalidStatus

from tests.live_server import LiveServer

from .client import (
    ask,
    closed_with,
    complete,
    recv_json,
    still_serves,
    still_serves_eventually,
    ws_session,
)
from .metrics_text import sample

pytestmark = pytest.mark.anyio

ALLOWED_ORIGIN = "http://allowed.example"
LIMITS = {
    "QAC_RATE_PER_S": "20",
    "QAC_RATE_BURST": "20",
    "QAC_FLOOD_CLOSE_AFTER": "10",
    "QAC_MAX_FRAME_BYTES": "65536",
    "QAC_ALLOWED_ORIGINS": ALLOWED_ORIGIN,
}


@pytest.fixture(scope="module")
def live(built_sample_index: Path) -> Iterator[LiveServer]:
    with LiveServer(built_sample_index, env=LIMITS) as server:
        yield server


@asynccontextmanager
async def bystander(server: LiveServer) -> AsyncIterator[ClientConnection]:
    """A well-behaved connection open across the abuse; it must be served before and after."""
    async with ws_session(server.ws_url) as (ws, _):
        await complete(ws, "goo", request_id="before")
        yield ws
        reply = await complete(ws, "goo", request_id="after")
        assert reply["items"][0]["text"] == "google"


async def bad_request(ws: ClientConnection, frame: dict | str | bytes) -> dict:
    reply = await ask(ws, frame)
    assert reply["type"] == "error" and reply["code"] == "bad_request", reply
    return reply


async def usable(ws: ClientConnection) -> None:
    """The abusive connection itself keeps working after a bad frame."""
    reply = await complete(ws, "new y", request_id="ok")
    assert reply["items"] and reply["prefix"] == "new y"


@pytest.mark.parametrize("text", ["{", "not json", "", '{"type": "complete", "id": 1,}'])
async def test_malformed_json_gets_bad_request_and_the_connection_stays(live, text) -> None:
    async with bystander(live), ws_session(live.ws_url) as (ws, _):
        reply = await bad_request(ws, text)
        assert reply["id"] is None and "not valid JSON" in reply["message"]
        await usable(ws)


@pytest.mark.parametrize("text", ["[]", '"complete"', "42", "null"])
async def test_json_that_is_not_an_object_gets_bad_request(live, text) -> None:
    async with bystander(live), ws_session(live.ws_url) as (ws, _):
        assert "must be a JSON object" in (await bad_request(ws, text))["message"]
        await usable(ws)


async def test_deeply_nested_json_gets_bad_request(live) -> None:
    async with bystander(live), ws_session(live.ws_url) as (ws, _):
        assert "nested too deeply" in (await bad_request(ws, "[" * 30_000))["message"]
        await usable(ws)


async def test_unknown_type_gets_bad_request_with_its_id(live) -> None:
    async with bystander(live), ws_session(live.ws_url) as (ws, _):
        reply = await bad_request(ws, {"type": "delete_everything", "id": 41})
        assert reply["id"] == 41 and "field 'type'" in reply["message"]
        await usable(ws)


@pytest.mark.parametrize(
    ("frame", "field"),
    [
        ({"type": "complete", "prefix": "a"}, "'id' is missing"),
        ({"type": "complete", "id": [1], "prefix": "a"}, "'id' must be an integer or a string"),
        ({"type": "complete", "id": True, "prefix": "a"}, "'id' must be an integer or a string"),
        ({"type": "complete", "id": 1}, "'prefix' is missing"),
        ({"type": "complete", "id": 1, "prefix": 5}, "'prefix' must be a string"),
        ({"type": "complete", "id": 1, "prefix": "a", "k": "10"}, "'k' must be an integer"),
        ({"type": "complete", "id": 1, "prefix": "a", "k": 0}, "'k' must be an integer >= 1"),
        ({"type": "complete", "id": 1, "prefix": "a", "k": 2.5}, "'k' must be an integer >= 1"),
        ({"type": "submit", "id": 1}, "'query' is missing"),
        ({"type": "submit", "id": 1, "query": {"q": 1}}, "'query' must be a string"),
        ({"type": "submit", "id": 1, "query": " \x00 "}, "'query' is empty"),
    ],
)
async def test_missing_or_mistyped_fields_get_bad_request(live, frame, field) -> None:
    async with bystander(live), ws_session(live.ws_url) as (ws, _):
        assert field in (await bad_request(ws, frame))["message"]
        await usable(ws)


async def test_prefix_over_the_limit_gets_bad_request(live) -> None:
    async with bystander(live), ws_session(live.ws_url) as (ws, _):
        reply = await bad_request(ws, {"type": "complete", "id": 5, "prefix": "a" * 201})
        assert reply["id"] == 5 and "the limit is 200" in reply["message"]
        reply = await bad_request(ws, {"type": "complete", "id": 6, "prefix": "x" * 10_000})
        assert reply["id"] == 6 and "10000 characters" in reply["message"]
        await usable(ws)


async def test_binary_frames_get_bad_request_even_when_not_utf8(live) -> None:
    async with bystander(live), ws_session(live.ws_url) as (ws, _):
        for data in (
            b"\xff\xfe\x00garbage",
            json.dumps({"type": "complete", "id": 1, "prefix": "a"}).encode(),
        ):
            assert "binary frames" in (await bad_request(ws, data))["message"]
        await usable(ws)


async def test_invalid_utf8_in_a_text_frame_closes_with_1007(live) -> None:
    """RFC 6455 requires failing the connection; the protocol layer does, cleanly."""
    async with bystander(live), ws_session(live.ws_url) as (ws, _):
        await ws.send(b'{"type":"complete","id":1,"prefix":"\xff\xfe"}', text=True)
        code, _ = await closed_with(ws)
        assert code == 1007
    await still_serves(live.ws_url)


async def test_control_characters_are_stripped_not_refused(live) -> None:
    async with bystander(live), ws_session(live.ws_url) as (ws, _):
        reply = await complete(ws, "\x00go\x1bo\u200bg\x7f", request_id=3)
        assert reply["prefix"] == "goog"
        assert reply["items"][0]["text"] == "google"


async def test_a_frame_over_the_size_limit_closes_with_1009(live) -> None:
    async with bystander(live), ws_session(live.ws_url) as (ws, _):
        await ws.send(json.dumps({"type": "complete", "id": 1, "prefix": "a" * 70_000}))
        code, _ = await closed_with(ws)
        assert code == 1009
    await still_serves(live.ws_url)


async def test_a_flood_gets_rate_limited_errors_then_a_1008_close(live) -> None:
    before = sample(live.metrics(), "qac_rate_limit_closes_total")
    async with bystander(live), ws_session(live.ws_url) as (ws, _):
        for i in range(300):
            await ws.send(json.dumps({"type": "complete", "id": i, "prefix": "a"}))
        limited = 0
        while True:
            try:
                frame = await recv_json(ws)
            except Exception:
                break
            limited += frame.get("code") == "rate_limited"
        assert limited >= 1
        assert ws.close_code == 1008 and ws.close_reason == "rate limit exceeded"
    assert sample(live.metrics(), "qac_rate_limit_closes_total") == before + 1
    await still_serves(live.ws_url)


async def test_a_client_within_the_rate_is_never_limited(live) -> None:
    async with ws_session(live.ws_url) as (ws, _):
        for i in range(15):  # under the burst of 20, answered one by one
            await complete(ws, "new"[: 1 + i % 3], request_id=i)


async def test_a_foreign_origin_is_refused_at_the_handshake_with_403(live) -> None:
    before = sample(live.metrics(), "qac_refused_connections_total", reason="origin")
    async with bystander(live):
        with pytest.raises(InvalidStatus) as info:
            async with ws_session(live.ws_url, origin="http://evil.example"):
                pass
        assert info.value.response.status_code == 403
        assert b"origin not allowed" in info.value.response.body
    assert sample(live.metrics(), "qac_refused_connections_total", reason="origin") == before + 1


async def test_a_listed_origin_is_accepted(live) -> None:
    async with ws_session(live.ws_url, origin=ALLOWED_ORIGIN) as (ws, _):
        await usable(ws)


async def test_errors_are_counted_by_code(live) -> None:
    before = sample(live.metrics(), "qac_errors_total", code="bad_request")
    invalid = sample(live.metrics(), "qac_requests_total", type="invalid")
    async with ws_session(live.ws_url) as (ws, _):
        await bad_request(ws, "nope")
        await bad_request(ws, {"type": "x", "id": 1})
    text = live.metrics()
    assert sample(text, "qac_errors_total", code="bad_request") == before + 2
    assert sample(text, "qac_requests_total", type="invalid") == invalid + 2


async def test_too_many_connections_get_a_503_at_the_handshake(built_sample_index) -> None:
    with LiveServer(built_sample_index, env={"QAC_MAX_CONNECTIONS": "2"}) as server:
        async with ws_session(server.ws_url) as (first, _), ws_session(server.ws_url):
            with pytest.raises(InvalidStatus) as info:
                async with ws_session(server.ws_url):
                    pass
            response = info.value.response
            assert response.status_code == 503
            assert response.headers["Retry-After"] == "1"
            assert b"try again later" in response.body
            assert server.healthz()["http_status"] == 200, "HTTP stays available when full"
            await usable(first)
        # Both closed: the slots are free again (the server notices asynchronously).
        await still_serves_eventually(server.ws_url)
        assert sample(server.metrics(), "qac_refused_connections_total", reason="capacity") == 1
