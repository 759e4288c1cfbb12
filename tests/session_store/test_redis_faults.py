"""A dead, hung or restarted Redis: the store fails fast with one error type, then recovers."""

from __future__ import annotations

import os
import signal
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from session_store import SessionStoreUnavailable, StoreConfig
from session_store.redis_store import RedisStore
from tests.redis_server import RedisServer, free_port

pytestmark = [pytest.mark.anyio, pytest.mark.redis]

CALLS: dict[str, Callable[[RedisStore], Awaitable[object]]] = {
    "recent": lambda s: s.recent("s"),
    "append": lambda s: s.append("s", "q"),
    "clear": lambda s: s.clear("s"),
    "forget": lambda s: s.forget("s", "q"),
    "user_history": lambda s: s.user_history("u"),
    "record_user": lambda s: s.record_user("u", "q"),
    "forget_user one": lambda s: s.forget_user("u", "q"),
    "forget_user all": lambda s: s.forget_user("u"),
}


@pytest.fixture
async def store(own_redis_server: RedisServer) -> AsyncIterator[RedisStore]:
    store = RedisStore(own_redis_server.url, StoreConfig())
    await store.append("s", "before")  # leaves a pooled connection that will go stale
    yield store
    await store.close()


@pytest.mark.parametrize("call", CALLS.values(), ids=CALLS.keys())
async def test_every_call_raises_unavailable_when_redis_is_down(
    store: RedisStore,
    own_redis_server: RedisServer,
    call: Callable[[RedisStore], Awaitable[object]],
) -> None:
    own_redis_server.stop()
    with pytest.raises(SessionStoreUnavailable):
        await call(store)


async def test_ping_is_false_and_close_is_quiet_when_redis_is_down(
    store: RedisStore, own_redis_server: RedisServer
) -> None:
    own_redis_server.stop()
    assert await store.ping() is False
    await store.close()


async def test_nothing_listening_at_all_is_unavailable() -> None:
    store = RedisStore(f"redis://127.0.0.1:{free_port()}/0", StoreConfig())
    try:
        assert await store.ping() is False
        with pytest.raises(SessionStoreUnavailable):
            await store.recent("s")
    finally:
        await store.close()


async def test_same_store_works_again_after_redis_restarts(
    store: RedisStore, own_redis_server: RedisServer
) -> None:
    own_redis_server.stop()
    with pytest.raises(SessionStoreUnavailable):
        await store.append("s", "during outage")
    own_redis_server.start()  # same port, empty (no persistence), no script cache

    assert await store.ping() is True
    await store.append("s", "after")
    await store.record_user("u", "after", now=1.0)
    assert await store.recent("s") == ["after"]
    assert [e.query for e in await store.user_history("u")] == ["after"]


async def test_data_survives_a_restart_of_a_persistent_redis(
    persistent_redis_server: RedisServer,
) -> None:
    store = RedisStore(persistent_redis_server.url, StoreConfig())
    try:
        await store.append("s", "kept")
        persistent_redis_server.stop()
        persistent_redis_server.start()
        assert await store.recent("s") == ["kept"]
    finally:
        await store.close()


async def test_hung_redis_times_out_as_unavailable_then_recovers(
    store: RedisStore, own_redis_server: RedisServer
) -> None:
    pid = own_redis_server.pid
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)  # accepts TCP in the kernel, never answers
    try:
        with pytest.raises(SessionStoreUnavailable):
            await store.recent("s")
        assert await store.ping() is False
    finally:
        os.kill(pid, signal.SIGCONT)
    assert await store.recent("s") == ["before"]
