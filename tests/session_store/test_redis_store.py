"""What the Redis backend promises beyond the contract: key layout, TTLs, script reloads."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from session_store import StoreConfig, create_store
from session_store.redis_store import RedisStore
from tests.redis_server import RedisServer

pytestmark = [pytest.mark.anyio, pytest.mark.redis]

CONFIG = StoreConfig(max_recent=3, session_ttl_s=1800, user_ttl_s=7200)


@pytest.fixture
async def raw(redis_server: RedisServer) -> AsyncIterator[Redis]:
    """A plain client on an emptied database, to look behind the store's back."""
    client = Redis.from_url(redis_server.url, decode_responses=True)
    await client.flushall()
    yield client
    await client.aclose()


@pytest.fixture
async def store(redis_server: RedisServer, raw: Redis) -> AsyncIterator[RedisStore]:
    store = RedisStore(redis_server.url, CONFIG)
    yield store
    await store.close()


async def test_create_store_with_url_is_the_redis_backend(redis_server: RedisServer) -> None:
    store = create_store(redis_server.url, StoreConfig())
    try:
        assert isinstance(store, RedisStore)
        assert store.name == "redis"
        assert await store.ping() is True
    finally:
        await store.close()


def test_malformed_url_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        create_store("http://not-redis", StoreConfig())


async def test_session_is_a_list_newest_first_with_the_session_ttl(
    store: RedisStore, raw: Redis
) -> None:
    await store.append("s1", "a")
    await store.append("s1", "b")
    assert await raw.lrange("qac:sess:s1", 0, -1) == ["b", "a"]
    assert 1_799_000 < await raw.pttl("qac:sess:s1") <= 1_800_000


async def test_user_keys_share_a_hash_tag_and_the_user_ttl(store: RedisStore, raw: Redis) -> None:
    await store.record_user("u1", "a", now=10.0)
    await store.record_user("u1", "a", now=20.0)
    assert await raw.zrange("qac:user:{u1}", 0, -1, withscores=True) == [("a", 20.0)]
    assert await raw.hgetall("qac:user:{u1}:count") == {"a": "2"}
    for key in ["qac:user:{u1}", "qac:user:{u1}:count"]:
        assert 7_199_000 < await raw.pttl(key) <= 7_200_000


async def test_key_prefix_namespaces_every_key(redis_server: RedisServer, raw: Redis) -> None:
    store = RedisStore(redis_server.url, StoreConfig(key_prefix="other"))
    try:
        await store.append("s", "a")
        await store.record_user("u", "a", now=1.0)
        assert sorted(await raw.keys("*")) == [
            "other:sess:s",
            "other:user:{u}",
            "other:user:{u}:count",
        ]
    finally:
        await store.close()


async def test_append_refreshes_the_ttl_even_for_a_repeat(store: RedisStore, raw: Redis) -> None:
    await store.append("s", "a")
    await raw.pexpire("qac:sess:s", 5_000)
    await store.append("s", "a")
    assert await raw.pttl("qac:sess:s") > 1_799_000


async def test_record_user_refreshes_the_ttl(store: RedisStore, raw: Redis) -> None:
    await store.record_user("u", "a", now=1.0)
    await raw.pexpire("qac:user:{u}", 5_000)
    await raw.pexpire("qac:user:{u}:count", 5_000)
    await store.record_user("u", "b", now=2.0)
    assert await raw.pttl("qac:user:{u}") > 7_199_000
    assert await raw.pttl("qac:user:{u}:count") > 7_199_000


async def test_reads_do_not_refresh_the_ttl(store: RedisStore, raw: Redis) -> None:
    await store.append("s", "a")
    await raw.pexpire("qac:sess:s", 5_000)
    await store.recent("s")
    assert await raw.pttl("qac:sess:s") <= 5_000


async def test_trimmed_queries_leave_no_count_behind(redis_server: RedisServer, raw: Redis) -> None:
    store = RedisStore(redis_server.url, StoreConfig(user_history_size=2))
    try:
        for t, query in enumerate(["a", "b", "c"]):
            await store.record_user("u", query, now=float(t))
        assert await raw.hgetall("qac:user:{u}:count") == {"b": "1", "c": "1"}
    finally:
        await store.close()


async def test_keys_really_expire_after_a_short_ttl(redis_server: RedisServer, raw: Redis) -> None:
    store = RedisStore(redis_server.url, StoreConfig(session_ttl_s=0.1, user_ttl_s=0.1))
    try:
        await store.append("s", "a")
        await store.record_user("u", "a", now=1.0)
        assert await store.recent("s") == ["a"]
        deadline = time.monotonic() + 2.0
        while await raw.dbsize() and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        assert await store.recent("s") == []
        assert await store.user_history("u") == []
    finally:
        await store.close()


async def test_scripts_are_reloaded_when_redis_forgot_them(store: RedisStore, raw: Redis) -> None:
    await store.append("s", "a")
    await store.record_user("u", "a", now=1.0)
    await raw.script_flush()
    await store.append("s", "b")
    await store.record_user("u", "b", now=2.0)
    assert await store.recent("s") == ["a", "b"]
    assert len(await store.user_history("u")) == 2


async def test_two_store_objects_share_state(store: RedisStore, redis_server: RedisServer) -> None:
    other = RedisStore(redis_server.url, CONFIG)
    try:
        await store.append("s", "from worker 1")
        await other.append("s", "from worker 2")
        assert await store.recent("s") == ["from worker 1", "from worker 2"]
    finally:
        await other.close()


async def test_a_users_sessions_live_under_the_users_hash_tag_with_the_session_ttl(
    store: RedisStore, raw: Redis
) -> None:
    await store.append("s9", "hello", "u-9")
    key = "qac:user:{u-9}:sess:s9"
    assert await raw.lrange(key, 0, -1) == ["hello"]
    assert 0 < await raw.pttl(key) <= 1800 * 1000
    index = "qac:user:{u-9}:sessions"
    assert await raw.zrange(index, 0, -1) == [key]
    assert 1800 * 1000 < await raw.pttl(index) <= 90 * 86400 * 1000


async def test_forgetting_everything_leaves_no_key_of_the_user(
    store: RedisStore, raw: Redis
) -> None:
    for session in ("a", "b", "c"):
        await store.append(session, "q", "gone")
    await store.record_user("gone", "q", now=1.0)
    await store.forget_user("gone")
    assert [k async for k in raw.scan_iter("*gone*")] == []


async def test_a_forget_that_missed_a_session_added_meanwhile_changes_nothing(
    store: RedisStore, raw: Redis
) -> None:
    """The forget script touches only the session keys it is given (Redis Cluster needs
    that); given a stale list, it must not half-forget, so the store reads the index again."""
    await store.append("old", "q", "racer")
    await store.record_user("racer", "q", now=1.0)
    seen, counts = store.user_keys("racer")
    stale = [seen, counts, store.session_index_key("racer"), store.session_key("old", "racer")]
    await store.append("new", "q", "racer")  # a session opened after the list was read
    assert int(await store._forget_user(keys=stale, args=[""])) == 0
    assert await store.recent("old", "racer") == ["q"] and await store.user_history("racer")
    await store.forget_user("racer")
    assert [k async for k in raw.scan_iter("*racer*")] == []
