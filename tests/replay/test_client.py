"""One session over a scripted server: typing order, retries, losses, reconnects."""

from __future__ import annotations

from typing import Any

import pytest

from autocomplete.replay.client import (
    ClientSettings,
    ConnectFailed,
    SessionReplay,
    check_url,
    session_url,
)
from autocomplete.replay.errors import ServerGone, ServerUnreachable
from autocomplete.replay.plan import plan_sessions
from autocomplete.replay.retry import Backoff
from autocomplete.replay.runner import ReplaySettings, probe, replay_sessions
from indexer.sessions import Session
from tests.live_server import free_port

from .fakes import CLOSE, GONE, ScriptedServer, State, echo

pytestmark = pytest.mark.anyio

SESSION = Session("u1", ("ab", "abc"), (0.0, 1.0))  # keystrokes: a | a, ab
FAST = ClientSettings(
    reconnect=Backoff(base_s=0.01, max_s=0.05, deadline_s=10),
    rate_limited=Backoff(base_s=0.001, max_s=0.01, deadline_s=10),
)


def typed(state: State) -> list[tuple[str, str]]:
    return [(f["type"], f.get("prefix", f.get("query"))) for f in state.frames]


async def replay(
    server: ScriptedServer, settings: ClientSettings = FAST, session: Session = SESSION
) -> Any:
    (plan,) = plan_sessions([session], "t")
    return await SessionReplay(server.url, plan, settings, lambda q: q == "abc").run()


async def test_types_every_proper_prefix_waits_for_each_answer_then_submits():
    async with ScriptedServer() as server:
        out = await replay(server)
    assert typed(server.state) == [
        ("complete", "a"),
        ("submit", "ab"),
        ("complete", "a"),
        ("complete", "ab"),
        ("submit", "abc"),
    ]
    assert server.state.sessions == ["?"], "the server issues the session"
    assert (out.keystrokes, out.answered, out.lost, out.submits) == (3, 3, 0, 2)
    assert not out.errors and len(out.rtt_ms) == 3 and out.server_ms == [0.1] * 3
    # "a" -> [ac, ab]: ab at rank 2; then "a" -> miss for abc, "ab" -> [abc, abb]: rank 1
    assert [q.rr for q in out.queries] == [[0.5], [0.0, 1.0]]
    q = out.quality.to_dict()
    assert q["all"]["overall"]["n"] == 3 and q["seen"]["overall"]["n"] == 2


async def test_rate_limited_keystroke_is_retried_and_counted():
    def limited_once(frame: dict, state: State) -> Any:
        if len(state.frames) == 2:
            return {"type": "error", "id": None, "code": "rate_limited", "message": "slow down"}
        return echo(frame, state)

    async with ScriptedServer(limited_once) as server:
        out = await replay(server)
    assert typed(server.state)[1:3] == [("submit", "ab"), ("submit", "ab")]
    assert out.errors == {"rate_limited": 1}
    assert (out.answered, out.lost, out.not_stored) == (3, 0, 0)


async def test_stale_answers_are_dropped_by_id():
    def stale_first(frame: dict, state: State) -> Any:
        reply = echo(frame, state)
        if frame["type"] != "complete":
            return reply
        old = {**reply, "id": -5, "items": [{"text": "abc", "score": 9, "source": "index"}]}
        return [old, reply]

    async with ScriptedServer(stale_first) as server:
        out = await replay(server)
    assert [q.rr for q in out.queries] == [[0.5], [0.0, 1.0]]


async def test_closed_connection_loses_the_keystroke_and_reconnects_same_session():
    def close_on_second_complete(frame: dict, state: State) -> Any:
        completes = [f for f in state.frames if f["type"] == "complete"]
        if frame["type"] == "complete" and len(completes) == 2:
            return CLOSE
        return echo(frame, state)

    async with ScriptedServer(close_on_second_complete) as server:
        out = await replay(server)
    assert server.state.sessions == ["?", "srv-1"], "the reconnect resumes the issued session"
    assert (out.keystrokes, out.answered, out.lost, out.reconnects) == (3, 2, 1, 1)
    assert out.errors == {"disconnected": 1}
    assert [q.rr for q in out.queries] == [[0.5], [0.0, 1.0]]  # the lost one scored a miss


async def test_unacknowledged_submit_is_sent_again_after_reconnect():
    def close_on_first_submit(frame: dict, state: State) -> Any:
        if frame["type"] == "submit" and sum(f["type"] == "submit" for f in state.frames) == 1:
            return CLOSE
        return echo(frame, state)

    async with ScriptedServer(close_on_first_submit) as server:
        out = await replay(server)
    assert typed(server.state)[1:3] == [("submit", "ab"), ("submit", "ab")]
    assert out.errors == {"disconnected": 1}
    assert (out.lost, out.not_stored, out.reconnects) == (0, 0, 1)


async def test_unanswered_keystroke_times_out_and_typing_goes_on():
    def ignore_first(frame: dict, state: State) -> Any:
        return None if len(state.frames) == 1 else echo(frame, state)

    settings = ClientSettings(reply_timeout_s=0.2, reconnect=FAST.reconnect)
    async with ScriptedServer(ignore_first) as server:
        out = await replay(server, settings)
    assert out.errors == {"timeout": 1}
    assert (out.keystrokes, out.answered, out.lost) == (3, 2, 1)


async def test_error_answers_are_counted_by_code_and_scored_as_misses():
    def bad_request(frame: dict, state: State) -> Any:
        if frame["type"] == "complete":
            return {"type": "error", "id": frame["id"], "code": "bad_request", "message": "no"}
        return echo(frame, state)

    async with ScriptedServer(bad_request) as server:
        out = await replay(server)
    assert out.errors == {"bad_request": 3}
    assert out.answered == 0 and out.quality.to_dict()["all"]["overall"]["mrr@10"] == 0.0


async def test_a_server_gone_for_good_ends_the_replay_with_server_gone():
    def vanish(frame: dict, state: State) -> Any:
        return GONE

    settings = ClientSettings(reconnect=Backoff(base_s=0.01, max_s=0.02, deadline_s=0.2))
    async with ScriptedServer(vanish) as server:
        with pytest.raises(ServerGone, match="connection refused"):
            await replay(server, settings)


async def test_runner_reports_sessions_in_order_and_aborts_when_the_server_is_gone():
    sessions = [Session(str(i), ("ab" * (5 - i),), (0.0,)) for i in range(5)]
    plans = plan_sessions(sessions, "r")
    seen: list[int] = []
    async with ScriptedServer() as server:
        report, hello = await replay_sessions(
            server.url,
            plans,
            ReplaySettings(concurrency=3, client=FAST),
            on_session=lambda o: seen.append(o.index),
        )
    assert seen == [0, 1, 2, 3, 4] and hello["index"] == "fake-1"
    assert report.keystrokes == sum(p.keystrokes for p in plans)
    assert report.to_dict()["index"] == ["fake-1"]

    settings = ReplaySettings(
        concurrency=2,
        client=ClientSettings(reconnect=Backoff(base_s=0.01, max_s=0.02, deadline_s=0.2)),
    )
    async with ScriptedServer(lambda f, s: GONE if s.connections > 2 else echo(f, s)) as server:
        with pytest.raises(ServerGone, match=r"of 5 sessions"):
            await replay_sessions(server.url, plans, settings)


async def test_probe_of_a_port_with_nothing_listening_is_unreachable():
    with pytest.raises(ServerUnreachable, match="connection refused"):
        await probe(f"ws://127.0.0.1:{free_port()}/ws", 5.0)


async def test_a_session_the_server_replaced_is_followed_on_later_reconnects():
    def close_on_second_complete(frame: dict, state: State) -> Any:
        completes = [f for f in state.frames if f["type"] == "complete"]
        if frame["type"] == "complete" and len(completes) == 2:
            return CLOSE
        return echo(frame, state)

    async with ScriptedServer(close_on_second_complete, hello_session="replaced") as server:
        out = await replay(server)
    assert server.state.sessions == ["?", "replaced"]
    assert out.reconnects == 1


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:1/ws", "127.0.0.1:8000", "ws:///ws", "ws://host:99999/ws"]
)
def test_urls_that_are_not_websocket_urls_are_refused(url):
    with pytest.raises(ConnectFailed) as info:
        check_url(url)
    assert info.value.permanent and "bad URL" in info.value.reason


def test_session_parameter_is_set_and_others_kept():
    assert session_url("ws://h:1/ws?user=7&session=old", "new") == "ws://h:1/ws?user=7&session=new"
    assert session_url("ws://h:1/ws", "s-1") == "ws://h:1/ws?session=s-1"
