"""Findings 2 and 3: frames built to hurt the worker or the store get a clear answer instead.

* Long runs of combining marks made normalisation take superlinear time before any length
  check; now raw lengths are checked first, runs are capped, and the default frame limit is
  small (a completion frame is tiny).
* Lone surrogates (`"\\udc00"` in JSON) passed normalisation and then broke whatever encoded
  them: replies for other users (memory store) or the handler itself (Redis). Now they are
  refused at parse time, and no value can kill a handler.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.live_server import LiveServer
from tests.redis_server import RedisServer
from tests.server.client import ask, closed_with, complete, ws_session

pytestmark = [pytest.mark.anyio]

MARKS = "\u0301" * 32_000  # combining acute accents: ~0.7 s of NFKC before the fix


def frame(kind: str, text: str, request_id: int = 1) -> str:
    field = "prefix" if kind == "complete" else "query"
    return json.dumps({"type": kind, "id": request_id, field: text})


@pytest.fixture(scope="module")
def roomy(built_sample_index: Path) -> Iterator[LiveServer]:
    """A server whose frame limit admits the attack frame, to reach the text checks."""
    with LiveServer(built_sample_index, env={"QAC_MAX_FRAME_BYTES": "1000000"}) as live:
        yield live


async def test_a_combining_mark_frame_is_refused_by_its_raw_length_before_normalising(
    roomy: LiveServer,
) -> None:
    async with ws_session(roomy.ws_url) as (ws, _):
        for i in range(5):
            error = await ask(ws, frame("complete", "a" + MARKS, i))
            assert error["type"] == "error" and error["code"] == "bad_request"
            assert "32001 characters" in error["message"] and "as sent" in error["message"]
        assert (await complete(ws, "goo", request_id=9))["items"], "the connection goes on"
    async with ws_session(roomy.ws_url) as (neighbour, _):
        assert (await complete(neighbour, "goo"))["items"]


async def test_a_short_run_of_too_many_combining_marks_is_refused(roomy: LiveServer) -> None:
    async with ws_session(roomy.ws_url) as (ws, _):
        error = await ask(ws, frame("complete", "e" + "\u0301" * 31))
        assert error["code"] == "bad_request" and "combining marks" in error["message"]
        fine = await ask(ws, frame("complete", "cafe\u0301", 2))
        assert fine["type"] == "completions", "a real accent is fine"


async def test_by_default_the_attack_frame_is_too_big_to_be_read(
    built_sample_index: Path,
) -> None:
    with LiveServer(built_sample_index) as live:
        async with ws_session(live.ws_url) as (ws, _):
            # 9,000 marks: 54 KB as JSON escapes, once within the limit (64 KiB), now over it
            await ws.send(frame("complete", "a" + MARKS[:9_000]))
            code, _ = await closed_with(ws)
            assert code == 1009
        async with ws_session(live.ws_url) as (ws, _):
            assert (await complete(ws, "goo"))["items"]


@pytest.mark.parametrize("kind", ["complete", "submit"])
async def test_a_lone_surrogate_is_a_bad_request_at_parse_time(
    roomy: LiveServer, kind: str
) -> None:
    async with ws_session(roomy.ws_url) as (ws, _):
        error = await ask(ws, frame(kind, "new \udc00york"))  # json escapes it as \udc00
        assert error["code"] == "bad_request" and "surrogate" in error["message"]
        error = await ask(ws, json.dumps({"type": "complete", "id": "\ud800", "prefix": "x"}))
        assert error["code"] == "bad_request" and error["id"] is None


async def test_surrogate_submits_cannot_break_other_peoples_replies_with_the_memory_store(
    roomy: LiveServer,
) -> None:
    async with ws_session(roomy.ws_url) as (attacker, _):
        for i in range(4):
            await ask(attacker, frame("submit", "n\udc00", i))
    async with ws_session(roomy.ws_url) as (victim, _):
        for i, prefix in enumerate(["n", "ne", "new"]):
            assert (await complete(victim, prefix, request_id=i))["type"] == "completions"
    assert "Traceback" not in roomy.output()


@pytest.mark.redis
async def test_surrogate_submits_with_redis_get_an_answer_and_no_traceback(
    built_sample_index: Path, own_redis_server: RedisServer
) -> None:
    env = {"QAC_MAX_FRAME_BYTES": "1000000"}
    with LiveServer(built_sample_index, redis_url=own_redis_server.url, env=env) as live:
        async with ws_session(live.ws_url) as (ws, _):
            for i in range(20):
                error = await ask(ws, frame("submit", "x\udc00", i))
                assert error["type"] == "error" and error["id"] == i
            ack = await ask(ws, {"type": "submit", "id": 99, "query": "fine"})
            assert ack == {"type": "ack", "id": 99, "stored": True}, "the socket is still open"
        assert "Traceback" not in live.output()
