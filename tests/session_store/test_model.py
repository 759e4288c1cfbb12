"""Random operation sequences agree with a ten-line model of a session (hypothesis)."""

from __future__ import annotations

import asyncio

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from session_store import SessionStore, StoreConfig
from session_store.memory import MemoryStore
from session_store.redis_store import RedisStore
from tests.redis_server import RedisServer

from .conftest import SINGLE_BACKENDS

MAX_RECENT = 4
QUERIES = st.sampled_from(["a", "b", "c", "ü 東京", "a "])
OPS = st.lists(
    st.one_of(
        st.tuples(st.just("append"), QUERIES),
        st.tuples(st.just("forget"), QUERIES),
        st.tuples(st.just("clear"), st.just("")),
    ),
    max_size=25,
)


def model(ops: list[tuple[str, str]]) -> list[str]:
    recent: list[str] = []
    for op, query in ops:
        if op == "append" and (not recent or recent[-1] != query):
            recent = [*recent, query][-MAX_RECENT:]
        elif op == "forget":
            recent = [q for q in recent if q != query]
        elif op == "clear":
            recent = []
    return recent


async def apply(store: SessionStore, ops: list[tuple[str, str]]) -> list[str]:
    try:
        for op, query in ops:
            if op == "append":
                await store.append("s", query)
            elif op == "forget":
                await store.forget("s", query)
            else:
                await store.clear("s")
        return await store.recent("s")
    finally:
        await store.close()


# The `backend` fixture only names a backend and a shared server; each example builds its
# own store and clears the session key it uses, so reusing the fixture across examples is safe.
# One anonymous session is one key, so a cluster would run the very same commands: not rerun.
@pytest.mark.parametrize("backend", SINGLE_BACKENDS, indirect=True)
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops=OPS)
def test_session_matches_the_model(
    backend: str, request: pytest.FixtureRequest, ops: list[tuple[str, str]]
) -> None:
    config = StoreConfig(max_recent=MAX_RECENT)
    if backend == "memory":
        store: SessionStore = MemoryStore(config)
    else:
        server: RedisServer = request.getfixturevalue("redis_server")
        with redis.Redis.from_url(server.url) as client:
            client.flushall()
        store = RedisStore(server.url, config)
    assert asyncio.run(apply(store, ops)) == model(ops)
