"""Decayed submit counts, the same specification for the memory and the Redis backend."""

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

pytestmark = pytest.mark.anyio

HOUR = 3600.0
T = 1_700_000_000.0


@pytest.fixture
async def counts(backend: str, request: pytest.FixtureRequest) -> AsyncIterator[FreshCounts]:
    config = FreshConfig(half_life_s=HOUR, max_items=5)
    if backend == "memory":
        made: FreshCounts = MemoryFreshCounts(config)
    else:
        server: RedisServer = request.getfixturevalue("redis_server")
        made = RedisFreshCounts(server.url, config)
    yield made
    await made.close()


async def test_nothing_counted_reads_empty(counts: FreshCounts) -> None:
    assert await counts.top(10, now=T) == []


async def test_a_count_halves_every_half_life(counts: FreshCounts) -> None:
    for _ in range(4):
        await counts.add("storm prediction center", now=T)
    await counts.add("weather", now=T + HOUR)
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
    for _ in range(8):
        await counts.add("old favourite", now=T)
    for _ in range(3):
        await counts.add("new trend", now=T + 3 * HOUR)
    top = await counts.top(2, now=T + 3 * HOUR)
    assert [q for q, _ in top] == ["new trend", "old favourite"]


async def test_only_the_most_counted_queries_are_kept(counts: FreshCounts) -> None:
    for i in range(12):  # each query is submitted more often than all before it
        for _ in range(2 * (i + 1)):
            await counts.add(f"query {i:02d}", now=T)
    top = await counts.top(100, now=T)
    assert [q for q, _ in top] == [f"query {i:02d}" for i in range(11, 6, -1)]


async def test_counts_stay_exact_across_a_rebase_long_after_the_first_submit(
    counts: FreshCounts,
) -> None:
    tau = HOUR / math.log(2)
    await counts.add("ancient", now=T)
    far = T + (REBASE_AFTER + 5) * tau  # past the rebase point: scores are scaled down once
    await counts.add("recent", now=far)
    await counts.add("recent", now=far + HOUR)
    top = await counts.top(10, now=far + HOUR)
    assert top[0] == ("recent", pytest.approx(1.5))
    assert len(top) == 1 or top[1][1] < 1e-15


@pytest.mark.redis
async def test_redis_keeps_one_sorted_set_that_outlives_the_client(
    redis_server: RedisServer,
) -> None:
    with redis.Redis.from_url(redis_server.url) as client:
        client.flushall()
    first = create_fresh_counts(redis_server.url, FreshConfig(half_life_s=HOUR))
    await first.add("cheap flights", now=T)
    await first.close()
    second = create_fresh_counts(redis_server.url, FreshConfig(half_life_s=HOUR))
    assert await second.top(5, now=T) == [("cheap flights", pytest.approx(1.0))]
    await second.close()
    with redis.Redis.from_url(redis_server.url, decode_responses=True) as client:
        assert client.zrange("qac:{fresh}", 0, -1) == ["cheap flights"]
        assert float(client.get("qac:{fresh}:t0")) == T


def test_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="half_life_s"):
        FreshConfig(half_life_s=0)
    with pytest.raises(ValueError, match="max_items"):
        FreshConfig(max_items=0)


async def test_a_newcomer_can_overtake_a_full_table(counts: FreshCounts) -> None:
    for i in range(5):
        for _ in range(3):
            await counts.add(f"regular {i}", now=T)
    for _ in range(4):
        await counts.add("breaking news", now=T)
    assert (await counts.top(1, now=T))[0] == ("breaking news", pytest.approx(4.0))
