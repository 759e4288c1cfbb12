"""`FreshIndex`: recent queries by prefix, most counted first, bounded."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autocomplete.fresh import EMPTY, FreshIndex


def test_queries_extending_a_prefix_come_most_counted_first() -> None:
    index = FreshIndex([("new york", 2.0), ("new jersey", 5.0), ("newark", 1.0), ("maps", 9.0)])
    assert index.extending("new", 10) == [("new jersey", 5.0), ("new york", 2.0), ("newark", 1.0)]
    assert index.extending("new ", 1) == [("new jersey", 5.0)]
    assert index.extending("x", 5) == []
    assert index.extending("", 2) == [("maps", 9.0), ("new jersey", 5.0)]
    assert index.count("maps") == 9.0 and index.count("map") == 0.0


def test_the_size_is_bounded_by_the_most_counted() -> None:
    index = FreshIndex([(f"q{i}", float(i)) for i in range(1, 101)], max_items=10)
    assert len(index) == 10
    assert [t for t, _ in index.extending("q", 3)] == ["q100", "q99", "q98"]


def test_empty_and_unusable_rows_are_left_out() -> None:
    assert len(EMPTY) == 0 and EMPTY.extending("a", 3) == []
    index = FreshIndex([("", 3.0), ("zero", 0.0), ("a", 1.0), ("a", 2.0)])
    assert index.extending("", 5) == [("a", 2.0)]
    with pytest.raises(ValueError):
        FreshIndex(max_items=0)


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.text("abc ", min_size=1, max_size=6),
        st.one_of(st.floats(0.01, 100), st.sampled_from([1.0, 2.0, 3.0])),  # ties too
        max_size=60,
    ),
    st.text("abc ", max_size=3),
    st.integers(0, 10),
)
def test_extending_equals_a_plain_scan(counts: dict[str, float], prefix: str, n: int) -> None:
    got = FreshIndex(counts.items()).extending(prefix, n)
    want = sorted(
        ((t, c) for t, c in counts.items() if t.startswith(prefix)), key=lambda tc: (-tc[1], tc[0])
    )[:n]
    assert got == want
