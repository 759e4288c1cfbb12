"""The answer cache: a remembered answer is the ranker's answer; only context-free keystrokes
are remembered (a history or a session's previous queries never are)."""

from __future__ import annotations

import pytest

from autocomplete.loader import load_index
from autocomplete.ranking import Context
from autocomplete.result_cache import CachedRanker
from session_store.base import HistoryEntry

PREFIXES = ["g", "go", "goo", "new ", "new y", "www.", "zzzzzz", "the be", "s"]
CONTEXTS = [(), ("ebay",), ("what is fibromyalgia",), ("google", "ebay")]


@pytest.fixture(scope="module", params=["mpc_index_dir", "blend_index_dir", "xmr_index_dir"])
def index_dir(request):
    return request.getfixturevalue(request.param)


def test_a_cached_answer_equals_the_rankers_answer_for_the_same_keystroke(index_dir):
    plain = load_index(index_dir).ranker
    cached = CachedRanker(load_index(index_dir).ranker)
    for previous in CONTEXTS:
        for prefix in PREFIXES:
            for k in (3, 10):
                expect = plain.complete(Context(previous, (), 100.0), prefix, k)
                first = cached.complete(Context(previous, (), 100.0), prefix, k)
                # a later keystroke (another clock) of another visitor with the same session
                again = cached.complete(Context(previous, (), 5_000.0), prefix, k)
                assert first == expect and again == expect
    assert cached.hits == cached.misses == len(cached) == len(PREFIXES) * 2


def test_the_answer_depends_on_k(xmr_index_dir):
    cached = CachedRanker(load_index(xmr_index_dir).ranker)
    ten = cached.complete(Context(), "d", 10)
    three = cached.complete(Context(), "d", 3)
    assert len(ten) == 10 and len(three) == 3
    assert cached.misses == 2 and cached.hits == 0


def test_a_keystroke_after_a_previous_query_is_never_cached(xmr_index_dir):
    """A shared cache keyed by someone's previous query would answer a prober faster when
    another visitor recently typed the same prefix after the same query."""
    plain = load_index(xmr_index_dir).ranker
    cached = CachedRanker(load_index(xmr_index_dir).ranker)
    context = Context(("silverdaddies",), (), 100.0)
    for _ in range(3):
        assert cached.complete(context, "d", 10) == plain.complete(context, "d", 10)
    assert len(cached) == 0 and cached.hits == cached.misses == 0


def test_a_keystroke_with_a_personal_history_is_never_cached(xmr_index_dir):
    plain = load_index(xmr_index_dir).ranker
    cached = CachedRanker(load_index(xmr_index_dir).ranker)
    mine = (HistoryEntry("gooseberry jam recipe", 3, 50.0),)
    personal = Context((), mine, 100.0)
    got = cached.complete(personal, "goo", 10)
    assert got == plain.complete(personal, "goo", 10)
    assert "gooseberry jam recipe" in [c.text for c in got]
    assert len(cached) == 0 and cached.hits == cached.misses == 0
    # nobody else is served the personal item, before or after
    anonymous = cached.complete(Context(), "goo", 10)
    assert "gooseberry jam recipe" not in [c.text for c in anonymous]
    assert "gooseberry jam recipe" not in [c.text for c in cached.complete(Context(), "goo", 10)]


def test_the_cache_keeps_at_most_capacity_answers_dropping_the_least_recently_used(
    mpc_index_dir,
):
    seen: list[tuple[bool, int]] = []
    cached = CachedRanker(load_index(mpc_index_dir).ranker, 2, lambda hit, n: seen.append((hit, n)))
    for prefix in ("a", "b", "a", "c", "a", "b"):
        cached.complete(Context(), prefix, 5)
    # "b" was dropped for "c" ("a" had just been used), then "c" for "b"
    assert seen == [(False, 1), (False, 2), (True, 2), (False, 2), (True, 2), (False, 2)]
    assert len(cached) == 2


def test_a_caller_changing_its_answer_does_not_change_the_cached_one(mpc_index_dir):
    cached = CachedRanker(load_index(mpc_index_dir).ranker)
    first = cached.complete(Context(), "g", 5)
    expect = list(first)
    first.clear()
    assert cached.complete(Context(), "g", 5) == expect


def test_capacity_must_be_positive(mpc_index_dir):
    with pytest.raises(ValueError, match="capacity"):
        CachedRanker(load_index(mpc_index_dir).ranker, 0)


def test_warmed_short_prefixes_are_answered_as_the_ranker_answers_them(xmr_index_dir):
    plain = load_index(xmr_index_dir).ranker
    index = load_index(xmr_index_dir)
    cached = CachedRanker(index.ranker)
    heavy = index.labels.heavy_prefixes()
    assert heavy
    held = cached.warm(heavy, 10)
    assert held == len([p for p in heavy if p])
    for prefix in heavy:
        if prefix:
            assert cached.complete(Context((), (), 7.0), prefix, 10) == plain.complete(
                Context(), prefix, 10
            )
    assert cached.misses == 0 and cached.hits == held
