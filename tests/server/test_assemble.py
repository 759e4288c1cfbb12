"""What a reply holds: blocked and duplicate items out, k kept; recent searches ordered."""

from __future__ import annotations

from autocomplete.ranking import Completion
from autocomplete.server.assemble import (
    EXTRA,
    PROMOTE_COUNT,
    allowed_completions,
    merge_fresh,
    recent_searches,
)
from session_store.base import HistoryEntry


def ranker_of(texts: list[str]):
    asked: list[int] = []

    def rank(n: int) -> list[Completion]:
        asked.append(n)
        return [Completion(t, 1.0 / (i + 1)) for i, t in enumerate(texts[:n])]

    return rank, asked


def test_without_a_blocklist_the_ranker_is_asked_for_exactly_k() -> None:
    rank, asked = ranker_of([f"q{i}" for i in range(30)])
    assert [c.text for c in allowed_completions(rank, 3, None)] == ["q0", "q1", "q2"]
    assert asked == [3]


def test_blocked_items_are_replaced_from_further_down_keeping_order() -> None:
    rank, asked = ranker_of(["a bad", "b", "c bad", "d", "e", "f"])
    got = allowed_completions(rank, 3, lambda t: "bad" in t.split())
    assert [c.text for c in got] == ["b", "d", "e"]
    assert asked == [3 + EXTRA], "one call: the ranker had no more to give"


def test_when_the_first_ask_is_mostly_blocked_a_bigger_one_follows() -> None:
    texts = [f"bad {i}" for i in range(2 + EXTRA)]
    texts += ["good 1", "good 2"]
    rank, asked = ranker_of(texts)
    got = allowed_completions(rank, 2, lambda t: t.startswith("bad"))
    assert [c.text for c in got] == ["good 1", "good 2"]
    assert asked == [2 + EXTRA, 3 * 2 + EXTRA]


def test_the_blocklist_is_consulted_only_until_k_items_are_kept() -> None:
    # each test costs microseconds and a reply is on every keystroke: items past the k-th
    # kept one are never looked at
    rank, _ = ranker_of([f"q{i}" for i in range(20)])
    tested: list[str] = []

    def blocks(text: str) -> bool:
        tested.append(text)
        return text == "q1"

    got = allowed_completions(rank, 3, blocks)
    assert [c.text for c in got] == ["q0", "q2", "q3"]
    assert tested == ["q0", "q1", "q2", "q3"]


def test_texts_that_normalise_alike_appear_once() -> None:
    rank, _ = ranker_of(["new york", "New  York", "newark"])
    assert [c.text for c in allowed_completions(rank, 3, None)] == ["new york", "newark"]


def test_recent_searches_put_the_session_first_newest_first_then_history_by_last_use() -> None:
    got = recent_searches(
        ["old", "newer", "newest"],
        [
            HistoryEntry("ancient", 5, 10.0),
            HistoryEntry("newest", 1, 99.0),
            HistoryEntry("yesterday", 1, 50.0),
        ],
        k=4,
    )
    assert [c.text for c in got] == ["newest", "newer", "old", "yesterday"]
    assert {c.source for c in got} == {"history"}
    assert [c.score for c in got] == sorted((c.score for c in got), reverse=True)


def test_recent_searches_leave_out_hidden_and_blocked_queries() -> None:
    got = recent_searches(
        ["cats", "dogs", "bad word"],
        [HistoryEntry("fish", 1, 1.0)],
        k=10,
        hidden={"dogs"},
        blocks=lambda t: "bad" in t,
    )
    assert [c.text for c in got] == ["cats", "fish"]


def ranked(*texts: str) -> list[Completion]:
    return [Completion(t, 1.0 / (i + 1)) for i, t in enumerate(texts)]


def test_a_well_counted_fresh_query_goes_after_the_first_three_items() -> None:
    items = ranked("a1", "a2", "a3", "a4", "a5")
    got = merge_fresh(items, [("hot", PROMOTE_COUNT), ("a2", 50.0), ("cold", 1.0)], k=5)
    assert [(c.text, c.source) for c in got] == [
        ("a1", "index"),
        ("a2", "index"),
        ("a3", "index"),
        ("hot", "fresh"),
        ("a4", "index"),
    ], "a2 stays where the ranker put it; cold finds no room"
    assert got[3].score == got[2].score


def test_less_counted_fresh_queries_only_fill_room_and_blocked_ones_never_enter() -> None:
    got = merge_fresh(
        ranked("a1"),
        [("bad news", 9.0), ("c1", 1.0), ("c2", 0.5), ("c3", 0.2)],
        k=3,
        blocks=lambda t: "bad" in t,
    )
    assert [(c.text, c.source) for c in got] == [("a1", "index"), ("c1", "fresh"), ("c2", "fresh")]
    assert [c.text for c in merge_fresh([], [("c1", 1.0)], k=2)] == ["c1"]
    assert merge_fresh([], [("c1", 1.0)], k=2)[0].score == 0.0
