"""Fixtures for the session store tests: real Redis servers, a real Redis Cluster, and stores
of every backend."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator

import pytest
import redis

from session_store.base import SessionStore, StoreConfig
from session_store.memory import MemoryStore
from session_store.redis_store import RedisStore
from tests.cluster_server import LocalCluster
from tests.redis_server import RedisServer, redis_server_fixture

# One server for the contract tests (flushed before each test); tests that stop or restart
# Redis get their own.
redis_server = redis_server_fixture(scope="session")
own_redis_server = redis_server_fixture(scope="function")
persistent_redis_server = redis_server_fixture(scope="function", persistent=True)

# Contract tests run once per backend: memory, one Redis server, and a Redis Cluster (the
# session-wide `redis_cluster` of tests/conftest.py). `-m "not redis"` keeps only the memory
# runs; `-m "not cluster"` leaves out the cluster.
BACKENDS = [
    "memory",
    pytest.param("redis", marks=pytest.mark.redis),
    pytest.param("cluster", marks=[pytest.mark.redis, pytest.mark.cluster]),
]
#: One server only, for specifications where a cluster would add nothing but time.
SINGLE_BACKENDS = BACKENDS[:2]


class FakeClock:
    """A clock that moves only when told to, for expiry tests without sleeping."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> Iterator[str]:
    """Backend name; for "redis" and "cluster", a running server or cluster with no keys
    (or a skip)."""
    if request.param != "memory":
        redis_url(request.param, request, flush=True)
    yield request.param


def redis_url(backend: str, request: pytest.FixtureRequest, *, flush: bool = False) -> str:
    """The URL of the Redis behind `backend` ("redis" or "cluster"); `flush` empties it."""
    if backend == "cluster":
        cluster: LocalCluster = request.getfixturevalue("redis_cluster")
        if flush:
            cluster.flush()
        return cluster.url
    server: RedisServer = request.getfixturevalue("redis_server")
    if flush:
        with redis.Redis.from_url(server.url) as client:
            client.flushall()
    return server.url


StoreFactory = Callable[..., SessionStore]


@pytest.fixture
async def make_store(
    backend: str, request: pytest.FixtureRequest, clock: FakeClock
) -> AsyncIterator[StoreFactory]:
    """Build stores of the test's backend from a `StoreConfig`; all are closed afterwards.

    Memory stores expire entries on the `clock` fixture; Redis stores on real time.
    """
    stores: list[SessionStore] = []

    def make(config: StoreConfig | None = None) -> SessionStore:
        config = config if config is not None else StoreConfig()
        store: SessionStore
        if backend == "memory":
            store = MemoryStore(config, clock=clock)
        else:
            store = RedisStore(redis_url(backend, request), config)
        stores.append(store)
        return store

    yield make
    for store in stores:
        await store.close()


@pytest.fixture
async def store(make_store: StoreFactory) -> SessionStore:
    """A store with small limits so trimming is easy to observe."""
    return make_store(StoreConfig(max_recent=3, user_history_size=3))
