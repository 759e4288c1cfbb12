"""The `SessionStore` specification, run against every backend (memory, a real Redis server
and a real Redis Cluster)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import pytest

from session_store import (
    MAX_ID_CHARS,
    MAX_QUERY_CHARS,
    HistoryEntry,
    SessionStore,
    StoreConfig,
)
from tests.session_store.conftest import StoreFactory

pytestmark = pytest.mark.anyio

UNICODE_QUERIES = [
    "café crème",
    "東京 天気",
    "погода москва",
    "مطعم قريب",
    "e\u0301cole",  # combining accent, must not be normalised away
    "🍕 near me",
    'quotes "and" \\ backslash \n newline',
]


async def test_store_satisfies_the_protocol_and_names_its_backend(
    store: SessionStore, backend: str
) -> None:
    assert isinstance(store, SessionStore)
    assert store.name == ("memory" if backend == "memory" else "redis")
    assert await store.ping() is True


# Session context ------------------------------------------------------------------------


async def test_unknown_session_has_no_recent_queries(store: SessionStore) -> None:
    assert await store.recent("nobody") == []


async def test_recent_lists_queries_oldest_first_newest_last(store: SessionStore) -> None:
    await store.append("s", "weather")
    await store.append("s", "weather boston")
    assert await store.recent("s") == ["weather", "weather boston"]


async def test_immediate_repeat_is_stored_once(store: SessionStore) -> None:
    await store.append("s", "news")
    await store.append("s", "news")
    assert await store.recent("s") == ["news"]


async def test_earlier_query_submitted_again_is_stored_again(store: SessionStore) -> None:
    for query in ["a", "b", "a"]:
        await store.append("s", query)
    assert await store.recent("s") == ["a", "b", "a"]


async def test_only_the_newest_max_recent_queries_are_kept(store: SessionStore) -> None:
    for query in ["q1", "q2", "q3", "q4", "q5"]:
        await store.append("s", query)
    assert await store.recent("s") == ["q3", "q4", "q5"]


async def test_default_config_keeps_ten_queries(make_store: StoreFactory) -> None:
    store = make_store()
    for i in range(15):
        await store.append("s", f"q{i}")
    assert await store.recent("s") == [f"q{i}" for i in range(5, 15)]


async def test_clear_forgets_the_whole_session(store: SessionStore) -> None:
    await store.append("s", "a")
    await store.append("s", "b")
    await store.clear("s")
    assert await store.recent("s") == []
    await store.append("s", "c")
    assert await store.recent("s") == ["c"]


async def test_clear_of_unknown_session_is_a_no_op(store: SessionStore) -> None:
    await store.clear("nobody")
    assert await store.recent("nobody") == []


async def test_forget_removes_every_occurrence(store: SessionStore) -> None:
    for query in ["a", "b", "a"]:
        await store.append("s", query)
    await store.forget("s", "a")
    assert await store.recent("s") == ["b"]


async def test_forget_of_absent_query_or_session_changes_nothing(store: SessionStore) -> None:
    await store.append("s", "a")
    await store.forget("s", "zzz")
    await store.forget("nobody", "a")
    assert await store.recent("s") == ["a"]


async def test_forgetting_the_only_query_leaves_an_empty_session(store: SessionStore) -> None:
    await store.append("s", "a")
    await store.forget("s", "a")
    assert await store.recent("s") == []
    await store.append("s", "b")
    assert await store.recent("s") == ["b"]


async def test_sessions_are_isolated(store: SessionStore) -> None:
    await store.append("s1", "one")
    await store.append("s2", "two")
    await store.append("s1:x", "prefix lookalike")
    await store.clear("s2")
    assert await store.recent("s1") == ["one"]
    assert await store.recent("s1:x") == ["prefix lookalike"]
    assert await store.recent("s2") == []


async def test_unicode_queries_round_trip_in_sessions(store: SessionStore) -> None:
    for query in UNICODE_QUERIES:
        await store.append("sessão-ü", query)
    assert await store.recent("sessão-ü") == UNICODE_QUERIES[-3:]


async def test_concurrent_appends_keep_the_bound(store: SessionStore) -> None:
    await asyncio.gather(*(store.append("s", f"q{i}") for i in range(30)))
    recent = await store.recent("s")
    assert len(recent) == 3
    assert set(recent) <= {f"q{i}" for i in range(30)}


# Personal history ------------------------------------------------------------------------


async def test_unknown_user_has_empty_history(store: SessionStore) -> None:
    assert await store.user_history("nobody") == []


async def test_record_user_counts_submits_and_keeps_latest_time(store: SessionStore) -> None:
    await store.record_user("u", "pizza", now=100.0)
    await store.record_user("u", "pizza", now=250.5)
    assert await store.user_history("u") == [HistoryEntry("pizza", 2, 250.5)]


async def test_user_history_is_most_recently_used_first(store: SessionStore) -> None:
    await store.record_user("u", "a", now=1.0)
    await store.record_user("u", "b", now=2.0)
    await store.record_user("u", "a", now=3.0)
    assert await store.user_history("u") == [
        HistoryEntry("a", 2, 3.0),
        HistoryEntry("b", 1, 2.0),
    ]


async def test_history_keeps_only_the_most_recently_used_queries(store: SessionStore) -> None:
    for t, query in enumerate(["a", "b", "c", "a", "d"], start=1):
        await store.record_user("u", query, now=float(t))
    # "b" is the least recently used of the four, so it goes; "a" keeps its count.
    assert await store.user_history("u") == [
        HistoryEntry("d", 1, 5.0),
        HistoryEntry("a", 2, 4.0),
        HistoryEntry("c", 1, 3.0),
    ]
    await store.record_user("u", "b", now=6.0)
    assert [e.query for e in await store.user_history("u")] == ["b", "d", "a"]
    assert (await store.user_history("u"))[0].count == 1, "a dropped query starts over"


async def test_last_used_never_moves_backwards(store: SessionStore) -> None:
    await store.record_user("u", "a", now=50.0)
    await store.record_user("u", "a", now=10.0)
    assert await store.user_history("u") == [HistoryEntry("a", 2, 50.0)]


async def test_last_used_defaults_to_the_current_unix_time(store: SessionStore) -> None:
    before = time.time()
    await store.record_user("u", "now")
    after = time.time()
    [entry] = await store.user_history("u")
    assert before <= entry.last_used <= after


async def test_sub_second_times_are_kept(store: SessionStore) -> None:
    await store.record_user("u", "a", now=1_700_000_000.123456)
    assert (await store.user_history("u"))[0].last_used == 1_700_000_000.123456


async def test_forget_user_removes_one_query(store: SessionStore) -> None:
    await store.record_user("u", "a", now=1.0)
    await store.record_user("u", "b", now=2.0)
    await store.forget_user("u", "a")
    assert await store.user_history("u") == [HistoryEntry("b", 1, 2.0)]
    await store.record_user("u", "a", now=3.0)
    assert (await store.user_history("u"))[0] == HistoryEntry("a", 1, 3.0)


async def test_forget_user_without_query_removes_everything(store: SessionStore) -> None:
    await store.record_user("u", "a", now=1.0)
    await store.record_user("u", "b", now=2.0)
    await store.forget_user("u", None)
    assert await store.user_history("u") == []
    await store.forget_user("nobody")
    await store.forget_user("nobody", "a")


async def test_users_are_isolated(store: SessionStore) -> None:
    await store.record_user("alice", "a", now=1.0)
    await store.record_user("bob", "b", now=2.0)
    await store.record_user("{alice}", "braces", now=3.0)
    await store.forget_user("bob")
    assert await store.user_history("alice") == [HistoryEntry("a", 1, 1.0)]
    assert await store.user_history("{alice}") == [HistoryEntry("braces", 1, 3.0)]
    assert await store.user_history("bob") == []


async def test_sessions_and_users_are_separate_namespaces(store: SessionStore) -> None:
    await store.append("same-id", "session query")
    await store.record_user("same-id", "user query", now=1.0)
    await store.clear("same-id")
    assert await store.user_history("same-id") == [HistoryEntry("user query", 1, 1.0)]
    await store.append("same-id", "session query")
    await store.forget_user("same-id")
    assert await store.recent("same-id") == ["session query"]


async def test_a_session_belongs_to_its_user(store: SessionStore) -> None:
    await store.append("s1", "alice's query", "alice")
    assert await store.recent("s1", "alice") == ["alice's query"]
    assert await store.recent("s1", "bob") == [], "the same id under another user is empty"
    assert await store.recent("s1") == [], "and so is the anonymous session of that id"
    await store.append("s1", "anonymous query")
    assert await store.recent("s1", "alice") == ["alice's query"]


async def test_forgetting_a_query_reaches_every_session_of_the_user(store: SessionStore) -> None:
    await store.append("monday", "weather", "ann")
    await store.append("monday", "maps", "ann")
    await store.append("tuesday", "weather", "ann")
    await store.append("tuesday", "weather", "bob")
    await store.append("anon", "weather")
    await store.record_user("ann", "weather", now=1.0)
    await store.forget_user("ann", "weather")
    assert await store.recent("monday", "ann") == ["maps"]
    assert await store.recent("tuesday", "ann") == []
    assert await store.user_history("ann") == []
    assert await store.recent("tuesday", "bob") == ["weather"], "other users keep theirs"
    assert await store.recent("anon") == ["weather"]


async def test_forgetting_everything_empties_every_session_of_the_user(
    store: SessionStore,
) -> None:
    await store.append("monday", "weather", "ann")
    await store.append("tuesday", "maps", "ann")
    await store.record_user("ann", "maps", now=1.0)
    await store.append("monday", "kept", "bob")
    await store.forget_user("ann")
    assert await store.recent("monday", "ann") == []
    assert await store.recent("tuesday", "ann") == []
    assert await store.user_history("ann") == []
    assert await store.recent("monday", "bob") == ["kept"]
    await store.append("wednesday", "back again", "ann")
    assert await store.recent("wednesday", "ann") == ["back again"], "not a ban"


async def test_unicode_queries_round_trip_in_user_history(store: SessionStore) -> None:
    for t, query in enumerate(UNICODE_QUERIES):
        await store.record_user("usuário", query, now=float(t))
    history = await store.user_history("usuário")
    assert [e.query for e in history] == UNICODE_QUERIES[::-1][:3]


async def test_concurrent_records_of_one_query_all_count(store: SessionStore) -> None:
    await asyncio.gather(*(store.record_user("u", "same", now=1.0) for _ in range(25)))
    assert await store.user_history("u") == [HistoryEntry("same", 25, 1.0)]


async def test_history_size_is_configurable(make_store: StoreFactory) -> None:
    store = make_store(StoreConfig(user_history_size=200))
    for t in range(205):
        await store.record_user("u", f"q{t}", now=float(t))
    history = await store.user_history("u")
    assert len(history) == 200
    assert history[0].query == "q204" and history[-1].query == "q5"


# Input validation --------------------------------------------------------------------------

LONG_ID = "x" * (MAX_ID_CHARS + 1)
LONG_QUERY = "q" * (MAX_QUERY_CHARS + 1)

BAD_CALLS = {
    "recent/empty id": lambda s: s.recent(""),
    "recent/long id": lambda s: s.recent(LONG_ID),
    "append/empty id": lambda s: s.append("", "q"),
    "append/empty query": lambda s: s.append("s", ""),
    "append/long query": lambda s: s.append("s", LONG_QUERY),
    "clear/long id": lambda s: s.clear(LONG_ID),
    "forget/long query": lambda s: s.forget("s", LONG_QUERY),
    "user_history/empty id": lambda s: s.user_history(""),
    "record_user/long id": lambda s: s.record_user(LONG_ID, "q"),
    "record_user/long query": lambda s: s.record_user("u", LONG_QUERY),
    "forget_user/empty id": lambda s: s.forget_user(""),
    "forget_user/empty query": lambda s: s.forget_user("u", ""),
}


@pytest.mark.parametrize("call", BAD_CALLS.values(), ids=BAD_CALLS.keys())
async def test_malformed_arguments_raise_value_error(
    store: SessionStore, call: Callable[[SessionStore], Awaitable[object]]
) -> None:
    with pytest.raises(ValueError):
        await call(store)


async def test_longest_allowed_id_and_query_are_accepted(store: SessionStore) -> None:
    session_id, query = "s" * MAX_ID_CHARS, "q" * MAX_QUERY_CHARS
    await store.append(session_id, query)
    await store.record_user(session_id, query, now=1.0)
    assert await store.recent(session_id) == [query]
    assert await store.user_history(session_id) == [HistoryEntry(query, 1, 1.0)]
