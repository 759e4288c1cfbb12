"""One connection's logic against a scripted socket: ordering, newest wins, drain, failures."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from autocomplete.ranking import Ranker
from autocomplete.server.connection import Connection
from autocomplete.server.handshake import Identity
from autocomplete.server.metrics import ServerMetrics
from autocomplete.server.protocol import Limits
from autocomplete.server.services import Services
from autocomplete.server.store_gateway import StoreGateway
from session_store.base import HistoryEntry

from .fakes import BrokenRanker, ContextEchoRanker, FakeChannel, GatedStore, HistoryEchoRanker

pytestmark = pytest.mark.anyio

Harness = tuple[FakeChannel, Connection, "asyncio.Task[None]", Services]


def make_services(store: GatedStore, ranker: Ranker, **overrides: Any) -> Services:
    metrics = ServerMetrics("v1", "test", store.name)
    gateway = StoreGateway(store, metrics, read_timeout_s=5, write_timeout_s=5, retry_after_s=0.05)
    settings: dict[str, Any] = dict(
        rate_per_s=1000.0, rate_burst=1000, flood_close_after=10, drain_timeout_s=5.0
    )
    settings.update(overrides)
    return Services(ranker=ranker, gateway=gateway, metrics=metrics, limits=Limits(), **settings)


@pytest.fixture
async def start() -> AsyncIterator[Callable[..., Harness]]:
    tasks: list[asyncio.Task[None]] = []

    def run(
        store: GatedStore, ranker: Ranker, user: str | None = None, **overrides: Any
    ) -> Harness:
        channel = FakeChannel()
        services = make_services(store, ranker, **overrides)
        conn = Connection(channel, services, Identity("s1", user, False))
        task = asyncio.create_task(conn.run())
        tasks.append(task)
        return channel, conn, task, services

    yield run
    for task in tasks:
        task.cancel()


def value(metric: Any) -> float:
    return float(metric._value.get())


async def wait_for(predicate: Callable[[], bool]) -> None:
    async with asyncio.timeout(10):
        while not predicate():
            await asyncio.sleep(0.001)


async def test_a_complete_waiting_for_context_is_dropped_when_a_newer_one_arrives(start) -> None:
    store, ranker = GatedStore(), ContextEchoRanker()
    store.hold.set()
    channel, _, _, services = start(store, ranker)
    channel.push({"type": "complete", "id": 1, "prefix": "n"})
    channel.push({"type": "complete", "id": 2, "prefix": "ne"})
    await asyncio.to_thread(store.entered.wait, 10)
    store.release.set()
    sent = await channel.wait_sent(1)
    channel.push({"type": "complete", "id": 3, "prefix": "new"})
    sent = await channel.wait_sent(2)
    assert [(f["type"], f["id"]) for f in sent] == [("completions", 2), ("completions", 3)]
    assert [prefix for _, prefix, _ in ranker.calls] == ["ne", "new"], "the stale one is not ranked"
    # The stale read may come back last (its executor thread can be slow to wake).
    await wait_for(lambda: value(services.metrics.superseded) == 1)
    assert [prefix for _, prefix, _ in ranker.calls] == ["ne", "new"]


async def test_completes_after_a_submit_see_the_submitted_query(start) -> None:
    store, ranker = GatedStore(), ContextEchoRanker()
    channel, _, _, _ = start(store, ranker)
    channel.push({"type": "complete", "id": 1, "prefix": "w"})
    await channel.wait_sent(1)
    channel.push({"type": "submit", "id": 2, "query": "Cheap Flights"})
    channel.push({"type": "complete", "id": 3, "prefix": "w"})
    sent = await channel.wait_sent(3)
    assert sent[0]["items"][0]["text"] == "w after (none)"
    # The ack waits for the store; the keystroke after it does not (it may come first).
    by_id = {f["id"]: f for f in sent[1:]}
    assert by_id[2] == {"type": "ack", "id": 2, "stored": True}
    assert by_id[3]["items"][0]["text"] == "w after cheap flights"


async def test_drain_finishes_the_reply_in_flight_then_closes_with_1001(start) -> None:
    store, ranker = GatedStore(), ContextEchoRanker()
    store.hold.set()
    channel, conn, task, _ = start(store, ranker)
    channel.push({"type": "complete", "id": 1, "prefix": "a"})
    await asyncio.to_thread(store.entered.wait, 10)
    conn.drain()
    await asyncio.sleep(0)
    assert channel.closed is None, "not closed while a reply is in flight"
    store.release.set()
    async with asyncio.timeout(10):
        await task
    assert [f["id"] for f in channel.sent] == [1]
    assert channel.closed == (1001, "server shutting down")


async def test_drain_of_an_idle_connection_closes_at_once(start) -> None:
    channel, conn, task, _ = start(GatedStore(), ContextEchoRanker())
    await wait_for(lambda: conn.phase.value == "reading")
    conn.drain()
    conn.drain()  # idempotent
    async with asyncio.timeout(10):
        await task
    assert channel.closed == (1001, "server shutting down")


async def test_a_client_that_leaves_gets_nothing_more_and_no_close(start) -> None:
    store = GatedStore()
    store.hold.set()
    channel, _, task, _ = start(store, ContextEchoRanker())
    channel.push({"type": "complete", "id": 1, "prefix": "a"})
    await asyncio.to_thread(store.entered.wait, 10)
    channel.disconnect()
    async with asyncio.timeout(10):
        await task
    store.release.set()
    assert channel.sent == [] and channel.closed is None


async def test_a_ranker_failure_is_reported_and_the_connection_goes_on(start) -> None:
    channel, _, _, services = start(GatedStore(), BrokenRanker())
    channel.push({"type": "complete", "id": 1, "prefix": "a"})
    channel.push({"type": "submit", "id": 2, "query": "a"})
    sent = await channel.wait_sent(2)
    assert {
        "type": "error",
        "id": 1,
        "code": "unavailable",
        "message": "completions are unavailable for this prefix",
    } in sent
    assert {"type": "ack", "id": 2, "stored": True} in sent
    assert value(services.metrics.errors.labels("unavailable")) == 1


async def test_a_failing_store_costs_storage_but_no_error_and_not_the_connections_context(
    start,
) -> None:
    store, ranker = GatedStore(), ContextEchoRanker()
    store.failing = True
    channel, _, _, services = start(store, ranker)
    channel.push({"type": "submit", "id": 1, "query": "weather"})
    channel.push({"type": "complete", "id": 2, "prefix": "w"})
    sent = await channel.wait_sent(2)
    assert {"type": "ack", "id": 1, "stored": False} in sent, "the client learns it was not kept"
    reply = next(f for f in sent if f["type"] == "completions")
    assert reply["items"][0]["text"] == "w after weather", "this connection still knows it"
    assert not any(f["type"] == "error" for f in sent)
    m = services.metrics
    assert value(m.store_failures.labels("append")) == 1
    assert value(m.store_available) == 0


async def test_a_flood_is_answered_rate_limited_then_closed_with_1008(start) -> None:
    channel, _, task, services = start(
        GatedStore(), ContextEchoRanker(), rate_per_s=0.001, rate_burst=2, flood_close_after=3
    )
    for i in range(10):
        channel.push({"type": "complete", "id": i, "prefix": "a"})
    async with asyncio.timeout(10):
        await task
    codes = [f.get("code") for f in channel.sent if f["type"] == "error"]
    assert codes == ["rate_limited"] * 4
    assert value(services.metrics.requests.labels("complete")) == 2, "only the burst is served"
    assert channel.closed == (1008, "rate limit exceeded")
    assert value(services.metrics.rate_limit_closes) == 1


async def test_a_store_read_cancelled_by_a_disconnect_does_not_wedge_the_breaker(start) -> None:
    store = GatedStore()
    channel, _, task, services = start(store, ContextEchoRanker())
    breaker = services.gateway.breaker
    breaker.failure()
    breaker._open_until = 0.0  # cool-down over: the next read is the probe
    store.hold.set()
    channel.push({"type": "complete", "id": 1, "prefix": "a"})
    await asyncio.to_thread(store.entered.wait, 10)
    channel.disconnect()
    async with asyncio.timeout(10):
        await task
    store.release.set()
    await wait_for(lambda: breaker.state.value != "probing")
    assert breaker.allow(), "the next keystroke probes the store again"


async def test_a_personal_ranker_gets_the_users_history_read_once_and_submits_applied_locally(
    start,
) -> None:
    store, ranker = GatedStore(), HistoryEchoRanker()
    await store.record_user("bob", "bob's old query", now=1000.0)
    channel, _, _, services = start(store, ranker, user="bob")
    for i in range(3):
        channel.push({"type": "complete", "id": i, "prefix": "b"})
        await channel.wait_sent(i + 1)
    assert channel.sent[-1]["items"] == [
        {"text": "b mine bob's old query", "score": 1.0, "source": "history", "match": [0, 1]}
    ]
    assert ranker.contexts[0].history == (HistoryEntry("bob's old query", 1, 1000.0),)
    assert value(services.metrics.store_operations.labels("context")) == 1, "read once"

    channel.push({"type": "submit", "id": 9, "query": "Bob's New Query"})
    channel.push({"type": "complete", "id": 10, "prefix": "b"})
    sent = await channel.wait_sent(5)
    reply = next(f for f in reversed(sent) if f["type"] == "completions")
    assert reply["items"][0]["text"] == "b mine bob's new query", "the submit applies at once"
    assert value(services.metrics.store_operations.labels("context")) == 1, "without a re-read"
    stored = [e.query for e in await store.user_history("bob")]
    assert stored == ["bob's new query", "bob's old query"]


async def test_without_a_user_no_history_is_read(start) -> None:
    store, ranker = GatedStore(), HistoryEchoRanker()
    channel, _, _, services = start(store, ranker)
    channel.push({"type": "complete", "id": 1, "prefix": "b"})
    assert (await channel.wait_sent(1))[0]["items"][0]["text"] == "b mine (none)"
    assert value(services.metrics.store_operations.labels("user_history")) == 0


async def test_every_keystroke_carries_the_time_of_the_servers_wall_clock(start) -> None:
    store, ranker = GatedStore(), ContextEchoRanker()
    channel, _, _, _ = start(store, ranker, wall_clock=lambda: 1234.5)
    channel.push({"type": "complete", "id": 1, "prefix": "b"})
    await channel.wait_sent(1)
    assert [c.now for c in ranker.contexts] == [1234.5]
