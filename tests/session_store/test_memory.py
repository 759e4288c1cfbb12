"""The embedded store's own promises: expiry on an injected clock and bounded memory."""

from __future__ import annotations

import pytest

from session_store import HistoryEntry, StoreConfig, create_store
from session_store.memory import MemoryStore
from tests.session_store.conftest import FakeClock

pytestmark = pytest.mark.anyio

CONFIG = StoreConfig(session_ttl_s=1800, user_ttl_s=3600, max_sessions=3, max_users=2)


@pytest.fixture
def memory(clock: FakeClock) -> MemoryStore:
    return MemoryStore(CONFIG, clock=clock, wall_clock=lambda: 42.0)


def test_create_store_without_url_is_the_memory_backend() -> None:
    store = create_store(None, StoreConfig())
    assert isinstance(store, MemoryStore)
    assert store.name == "memory"


async def test_session_expires_after_its_ttl_without_a_submit(
    memory: MemoryStore, clock: FakeClock
) -> None:
    await memory.append("s", "a")
    clock.advance(1799)
    assert await memory.recent("s") == ["a"]
    clock.advance(1)
    assert await memory.recent("s") == []


async def test_append_refreshes_the_session_ttl(memory: MemoryStore, clock: FakeClock) -> None:
    await memory.append("s", "a")
    clock.advance(1000)
    await memory.append("s", "a")  # a repeat is not stored, but still counts as activity
    clock.advance(1000)
    assert await memory.recent("s") == ["a"]


async def test_reading_does_not_refresh_the_session_ttl(
    memory: MemoryStore, clock: FakeClock
) -> None:
    await memory.append("s", "a")
    clock.advance(1000)
    await memory.recent("s")
    clock.advance(800)
    assert await memory.recent("s") == []


async def test_user_history_expires_after_user_ttl(memory: MemoryStore, clock: FakeClock) -> None:
    await memory.record_user("u", "a", now=1.0)
    clock.advance(3599)
    await memory.record_user("u", "b", now=2.0)
    clock.advance(3599)
    assert [e.query for e in await memory.user_history("u")] == ["b", "a"]
    clock.advance(1)
    assert await memory.user_history("u") == []


async def test_record_user_stamps_the_wall_clock_by_default(memory: MemoryStore) -> None:
    await memory.record_user("u", "a")
    assert await memory.user_history("u") == [HistoryEntry("a", 1, 42.0)]


async def test_least_recently_written_session_is_evicted_beyond_max_sessions(
    memory: MemoryStore,
) -> None:
    for session_id in ["s1", "s2", "s3"]:
        await memory.append(session_id, "q")
    await memory.append("s1", "q again")  # s1 is now the most recently written
    await memory.append("s4", "q")
    assert await memory.recent("s2") == []
    assert await memory.recent("s1") == ["q", "q again"]
    assert await memory.recent("s3") == ["q"]
    assert await memory.recent("s4") == ["q"]


async def test_least_recently_written_user_is_evicted_beyond_max_users(
    memory: MemoryStore,
) -> None:
    for user_id in ["u1", "u2", "u3"]:
        await memory.record_user(user_id, "q", now=1.0)
    assert await memory.user_history("u1") == []
    assert await memory.user_history("u3") == [HistoryEntry("q", 1, 1.0)]


async def test_expired_sessions_do_not_crowd_out_live_ones(
    memory: MemoryStore, clock: FakeClock
) -> None:
    for session_id in ["old1", "old2"]:
        await memory.append(session_id, "q")
    clock.advance(1800)
    for session_id in ["s1", "s2", "s3"]:
        await memory.append(session_id, "q")
    assert [await memory.recent(s) for s in ["s1", "s2", "s3"]] == [["q"]] * 3


async def test_returned_lists_are_copies(memory: MemoryStore) -> None:
    await memory.append("s", "a")
    (await memory.recent("s")).append("mutated")
    assert await memory.recent("s") == ["a"]


async def test_close_drops_everything_and_ping_stays_true(memory: MemoryStore) -> None:
    await memory.append("s", "a")
    await memory.close()
    assert await memory.recent("s") == []
    assert await memory.ping() is True


@pytest.mark.parametrize(
    "field, value",
    [
        ("max_recent", 0),
        ("session_ttl_s", 0),
        ("retries", -1),
        ("key_prefix", "q{a}"),
        ("key_prefix", ""),
        ("max_users", 1.5),
    ],
)
def test_config_rejects_nonsense(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=field):
        StoreConfig(**{field: value})  # type: ignore[arg-type]
