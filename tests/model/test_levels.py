"""The small array helpers of the model's levels agree with numpy's own."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from autocomplete.model.levels import sorted_unique, spans


@given(st.lists(st.integers(0, 50), max_size=60))
def test_sorted_unique_is_numpys_unique(values: list[int]) -> None:
    a = np.array(values, dtype=np.int64)
    got = sorted_unique(a)
    assert got.dtype == a.dtype
    assert np.array_equal(got, np.unique(a))


@given(st.lists(st.tuples(st.integers(0, 100), st.integers(0, 5)), max_size=20))
def test_spans_concatenate_the_ranges(pairs: list[tuple[int, int]]) -> None:
    starts = np.array([s for s, _ in pairs], dtype=np.int64)
    lens = np.array([n for _, n in pairs], dtype=np.int64)
    want = [i for s, n in pairs for i in range(s, s + n)]
    assert spans(starts, lens).tolist() == want
