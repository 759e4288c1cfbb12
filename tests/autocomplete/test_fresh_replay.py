"""The offline fresh replay must be an honest online measurement (`bench/features.py`)."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autocomplete.fresh_replay import FreshReplay, grouped_by_time, submits_in_time_order
from indexer.sessions import Session
from session_store.fresh import FreshConfig

#: a connection's bound on counted queries, as the server's (no test comes near it)
TRACKED = 256


def visible(index) -> set[str]:  # type: ignore[no-untyped-def]
    return {q for q, _ in index.extending("", 10_000)}


def test_submits_come_in_global_time_order_with_equal_times_grouped():
    sessions = [
        Session("u1", ("a", "b"), (10.0, 30.0)),
        Session("u2", ("c", "d"), (20.0, 30.0)),
    ]
    order = submits_in_time_order(sessions)
    assert [(s.time, sessions[s.session].queries[s.j]) for s in order] == [
        (10.0, "a"),
        (20.0, "c"),
        (30.0, "b"),
        (30.0, "d"),
    ]
    groups = [[s.time for s in g] for g in grouped_by_time(order)]
    assert groups == [[10.0], [20.0], [30.0, 30.0]]


#: One person is enough here: these tests are about the replay's clock, not k-anonymity.
ANYONE = FreshConfig(min_users=1.0)


def test_a_query_is_not_fresh_for_its_own_keystrokes_nor_before_the_next_refresh():
    async def run() -> None:
        fresh = FreshReplay(1.0, TRACKED, config=ANYONE)
        assert visible(await fresh.snapshot(100.0)) == set()
        await fresh.submit("tab-1", "storm", 100.0, "u1")
        assert visible(await fresh.snapshot(100.0)) == set()  # its own keystrokes
        assert visible(await fresh.snapshot(100.9)) == set()  # the snapshot is from t=100
        assert visible(await fresh.snapshot(101.0)) == {"storm"}

    asyncio.run(run())


def test_a_coarse_refresh_delays_fresh_queries_to_the_next_boundary():
    async def run() -> None:
        fresh = FreshReplay(60.0, TRACKED, config=ANYONE)
        await fresh.snapshot(61.0)
        await fresh.submit("tab-1", "storm", 61.0, "u1")
        assert visible(await fresh.snapshot(119.0)) == set()
        assert visible(await fresh.snapshot(120.0)) == {"storm"}
        assert fresh.refreshes == 2

    asyncio.run(run())


def test_a_query_counts_once_per_connection_and_per_user_like_the_server():
    async def run() -> None:
        fresh = FreshReplay(1.0, TRACKED, config=ANYONE)
        assert await fresh.submit("tab-1", "storm", 1.0, "u1")
        assert not await fresh.submit("tab-1", "storm", 2.0, "u1")
        assert not await fresh.submit("tab-2", "storm", 2.5, "u1"), "the same user again"
        assert await fresh.submit("tab-3", "storm", 3.0, "u2")
        ((_, count),) = (await fresh.snapshot(10.0)).extending("", 5)
        assert count == pytest.approx(2.0, rel=1e-3)  # decayed over seconds of a 6 h half-life

    asyncio.run(run())


def test_by_default_a_query_is_fresh_for_others_only_after_three_users():
    async def run() -> None:
        fresh = FreshReplay(1.0, TRACKED)
        for i, user in enumerate(("u1", "u2")):
            await fresh.submit(f"tab-{i}", "storm", 1.0, user)
        assert visible(await fresh.snapshot(5.0)) == set()
        await fresh.submit("tab-9", "storm", 5.0, "u3")
        assert visible(await fresh.snapshot(6.0)) == {"storm"}

    asyncio.run(run())


def test_time_cannot_go_backwards():
    async def run() -> None:
        fresh = FreshReplay(1.0, TRACKED)
        await fresh.snapshot(10.0)
        with pytest.raises(ValueError, match="backwards"):
            await fresh.submit("tab-1", "storm", 9.0, "u1")

    asyncio.run(run())


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from("abcde"), st.integers(0, 400), st.integers(0, 3)), max_size=40
    ),
    st.sampled_from([1.0, 2.0, 60.0]),
)
def test_replayed_snapshots_only_hold_queries_submitted_strictly_earlier(events, refresh_s):
    """The replay loop of `bench/features.py` on random streams: every query a keystroke at
    time t can see was first submitted before t."""
    sessions = [Session(f"u{c}", (q,), (float(t),)) for q, t, c in events]
    first: dict[str, float] = {}

    async def run() -> None:
        fresh = FreshReplay(refresh_s, TRACKED, config=ANYONE)
        for group in grouped_by_time(submits_in_time_order(sessions)):
            t = group[0].time
            assert all(first[q] < t for q in visible(await fresh.snapshot(t)))
            for sub in group:
                q = sessions[sub.session].queries[sub.j]
                first.setdefault(q, t)
                await fresh.submit(sub.session, q, t, sessions[sub.session].user)

    asyncio.run(run())
