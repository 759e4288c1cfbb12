from datetime import date

from indexer.querylog import QueryEvent
from indexer.sessions import TimeSplit, examples, pairs, sessionize, split_events

T0 = 1_146_000_000.0  # 2006-04-25


def ev(user: str, q: str, minute: float) -> QueryEvent:
    return QueryEvent(user, q, T0 + 60 * minute)


def test_a_gap_over_30_minutes_starts_a_new_session():
    s = list(sessionize([ev("u", "a", 0), ev("u", "b", 30), ev("u", "c", 61)]))
    assert [x.queries for x in s] == [("a", "b"), ("c",)]


def test_a_new_user_starts_a_new_session():
    s = list(sessionize([ev("u", "a", 0), ev("v", "b", 1)]))
    assert [(x.user, x.queries) for x in s] == [("u", ("a",)), ("v", ("b",))]


def test_reissuing_the_same_query_is_collapsed():
    s = list(sessionize([ev("u", "a", 0), ev("u", "a", 1), ev("u", "b", 2)]))
    assert s[0].queries == ("a", "b")


def test_gap_is_configurable():
    s = list(sessionize([ev("u", "a", 0), ev("u", "b", 6)], gap_s=5 * 60))
    assert len(s) == 2


def test_split_is_by_time_boundaries():
    split = TimeSplit(date(2006, 5, 1), date(2006, 5, 9))
    early, dev, late = (
        QueryEvent("u", q, t)
        for q, t in (("a", 1146441599.0), ("b", 1146441600.0), ("c", 1147132800.0))
    )
    parts = split_events([early, dev, late], split)
    assert [e.query for e in parts["train"]] == ["a"]
    assert [e.query for e in parts["dev"]] == ["b"]
    assert [e.query for e in parts["test"]] == ["c"]


def test_first_query_of_a_session_has_no_previous_query():
    s = list(sessionize([ev("u", "ab", 0), ev("u", "cd", 1)]))
    assert [(p, q) for p, q, _, _ in pairs(s)] == [("", "ab"), ("ab", "cd")]


def test_examples_cover_every_proper_prefix_with_context():
    s = list(sessionize([ev("u", "ab", 0), ev("u", "new y", 1)]))
    ex = [(e.prev, e.prefix, e.target) for e in examples(s)]
    assert ex == [
        ("", "a", "ab"),
        ("ab", "n", "new y"),
        ("ab", "ne", "new y"),
        ("ab", "new", "new y"),
        ("ab", "new ", "new y"),
    ]
    assert all(e.context == ("ab",) for e in examples(s) if e.target == "new y")
