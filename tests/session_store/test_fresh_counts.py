"""Fresh submit counts: decayed, k-anonymous, forgettable; one specification, every backend
(memory, a Redis server, a Redis Cluster)."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator

import pytest
import redis

from session_store.fresh import (
    REBASE_AFTER,
    FreshConfig,
    FreshCounts,
    MemoryFreshCounts,
    RedisFreshCounts,
    create_fresh_counts,
)
from tests.redis_server import RedisServer

from .conftest import redis_url

pytestmark = pytest.mark.anyio

HOUR = 3600.0
T = 1_700_000_000.0 - (1_700_000_000.0 % (6 * HOUR))  # the start of a window


def make(backend: str, request: pytest.FixtureRequest, **settings: object) -> FreshCounts:
    config = FreshConfig(**{"half_life_s": HOUR, "max_items": 5, **settings})  # type: ignore[arg-type]
    if backend == "memory":
        return MemoryFreshCounts(config)
    return RedisFreshCounts(redis_url(backend, request), config)


@pytest.fixture
async def counts(backend: str, request: pytest.FixtureRequest) -> AsyncIterator[FreshCounts]:
    """min_users 1: the decay and bounds, one identity per submit."""
    made = make(backend, request, min_users=1.0)
    yield made
    await made.close()


@pytest.fixture
async def private(backend: str, request: pytest.FixtureRequest) -> AsyncIterator[FreshCounts]:
    """The privacy rules: three distinct identities before anyone sees a query."""
    made = make(backend, request, min_users=3.0, window_s=6 * HOUR, quota=5)
    yield made
    await made.close()


async def submit(counts: FreshCounts, query: str, times: int, now: float, tag: str = "") -> None:
    """`times` submits of `query`, each by a different identity."""
    for i in range(times):
        await counts.add(query, f"user:{tag}{query}:{i}", now=now)


async def test_nothing_counted_reads_empty(counts: FreshCounts) -> None:
    assert await counts.top(10, now=T) == []


async def test_a_count_halves_every_half_life(counts: FreshCounts) -> None:
    await submit(counts, "storm prediction center", 4, T)
    await submit(counts, "weather", 1, T + HOUR)
    assert await counts.top(10, now=T + HOUR) == [
        ("storm prediction center", pytest.approx(2.0)),
        ("weather", pytest.approx(1.0)),
    ]
    later = await counts.top(10, now=T + 3 * HOUR)
    assert later == [
        ("storm prediction center", pytest.approx(0.5)),
        ("weather", pytest.approx(0.25)),
    ]


async def test_a_new_trend_overtakes_an_old_favourite(counts: FreshCounts) -> None:
    await submit(counts, "old favourite", 8, T)
    await submit(counts, "new trend", 3, T + 3 * HOUR)
    top = await counts.top(2, now=T + 3 * HOUR)
    assert [q for q, _ in top] == ["new trend", "old favourite"]


async def test_only_the_most_counted_queries_are_kept(counts: FreshCounts) -> None:
    for i in range(12):  # each query is submitted by more people than all before it
        await submit(counts, f"query {i:02d}", 2 * (i + 1), T)
    top = await counts.top(100, now=T)
    assert [q for q, _ in top] == [f"query {i:02d}" for i in range(11, 6, -1)]


async def test_counts_stay_exact_across_a_rebase_long_after_the_first_submit(
    counts: FreshCounts,
) -> None:
    tau = HOUR / math.log(2)
    await submit(counts, "ancient", 1, T)
    far = T + (REBASE_AFTER + 5) * tau  # past the rebase point: scores are scaled down once
    await submit(counts, "recent", 1, far, tag="a")
    await submit(counts, "recent", 1, far + HOUR, tag="b")
    top = await counts.top(10, now=far + HOUR)
    assert top[0] == ("recent", pytest.approx(1.5))
    assert len(top) == 1 or top[1][1] < 1e-15


async def test_a_newcomer_can_overtake_a_full_table(counts: FreshCounts) -> None:
    for i in range(5):
        await submit(counts, f"regular {i}", 3, T)
    await submit(counts, "breaking news", 4, T)
    assert (await counts.top(1, now=T))[0] == ("breaking news", pytest.approx(4.0))


async def test_a_query_stays_private_until_enough_distinct_people_sent_it(
    private: FreshCounts,
) -> None:
    await private.add("my landlord is a crook", "user:alice", now=T)
    await private.add("my landlord is a crook", "user:bob", now=T + 1)
    assert await private.top(10, now=T + 2) == [], "two people are not a crowd"
    await private.add("my landlord is a crook", "user:carol", now=T + 2)
    top = await private.top(10, now=T + 2)
    assert [q for q, _ in top] == ["my landlord is a crook"]
    assert top[0][1] == pytest.approx(3.0, rel=1e-3), "everyone who sent it counts once"


async def test_one_identity_counts_once_per_query_per_window(private: FreshCounts) -> None:
    for i in range(50):
        counted = await private.add("buy cheap pills", "user:spammer", now=T + i)
        assert counted is (i == 0)
    assert await private.top(10, now=T + 60) == []


async def test_anonymous_addresses_weigh_less(private: FreshCounts) -> None:
    for i in range(11):  # 11 x 0.25 < 3
        await private.add("new york buy cheap pills", f"client:{i}", 0.25, now=T)
    assert await private.top(10, now=T) == []
    await private.add("new york buy cheap pills", "client:11", 0.25, now=T)
    assert [q for q, _ in await private.top(10, now=T)] == ["new york buy cheap pills"]


async def test_a_flood_of_queries_from_one_identity_stops_counting_at_its_quota(
    private: FreshCounts,
) -> None:
    results = [await private.add(f"query {i}", "user:bot", now=T) for i in range(8)]
    assert results == [True] * 5 + [False] * 3


async def test_a_new_window_counts_an_identity_again_but_release_needs_one_window(
    private: FreshCounts,
) -> None:
    await private.add("slow burner", "user:a", now=T)
    await private.add("slow burner", "user:b", now=T)
    await private.add("slow burner", "user:c", now=T + 6 * HOUR)  # the next window
    assert await private.top(10, now=T + 6 * HOUR) == []


async def test_forgetting_takes_an_identitys_contribution_back(private: FreshCounts) -> None:
    for who in ("user:alice", "user:bob", "user:carol", "user:dan"):
        await private.add("weather boston", who, now=T)
    await private.forget("user:dan", "weather boston", now=T)
    top = await private.top(10, now=T)
    assert top == [("weather boston", pytest.approx(3.0, rel=1e-3))]
    await private.forget("user:carol", None, now=T)  # everything carol contributed
    assert await private.top(10, now=T) == [], "below three people again: withdrawn"


async def test_forget_of_nothing_counted_changes_nothing(private: FreshCounts) -> None:
    await private.forget("user:nobody", None, now=T)
    await private.forget("user:nobody", "some query", now=T)
    assert await private.top(10, now=T) == []


@pytest.mark.redis
async def test_redis_keeps_the_counts_after_the_client_and_forget_all_leaves_no_trace(
    redis_server: RedisServer,
) -> None:
    with redis.Redis.from_url(redis_server.url) as client:
        client.flushall()
    config = FreshConfig(half_life_s=HOUR, min_users=1.0)
    first = create_fresh_counts(redis_server.url, config)
    await first.add("cheap flights", "user:x", now=T)
    await first.close()
    second = create_fresh_counts(redis_server.url, config)
    assert await second.top(5, now=T) == [("cheap flights", pytest.approx(1.0))]
    await second.forget("user:x", None, now=T)
    assert await second.top(5, now=T) == []
    await second.close()
    with redis.Redis.from_url(redis_server.url, decode_responses=True) as client:
        for key in client.scan_iter("*"):
            assert "user:x" not in client.hkeys(key) if client.type(key) == "hash" else True
            if client.type(key) == "set":
                assert "cheap flights" not in client.smembers(key)


def test_settings_are_checked() -> None:
    for bad, field in (
        ({"half_life_s": 0}, "half_life_s"),
        ({"max_items": 0}, "max_items"),
        ({"min_users": 0}, "min_users"),
        ({"window_s": 0}, "window_s"),
        ({"quota": 0}, "quota"),
    ):
        with pytest.raises(ValueError, match=field):
            FreshConfig(**bad)  # type: ignore[arg-type]


async def test_identities_and_weights_are_checked(private: FreshCounts) -> None:
    with pytest.raises(ValueError, match="identity"):
        await private.add("q", "", now=T)
    with pytest.raises(ValueError, match="weight"):
        await private.add("q", "user:a", 2.0, now=T)
