"""Prefix-length buckets: one definition for metrics, blend weights and benchmarks."""

import pytest

from autocomplete.model.buckets import BUCKETS, NAMES, bucket_index, bucket_of


def test_every_length_falls_in_the_bucket_whose_bounds_hold_it() -> None:
    for n in range(1, 40):
        name, lo, hi = BUCKETS[bucket_index(n)]
        assert lo <= n <= hi and bucket_of(n) == name
    assert [bucket_of(n) for n in (1, 2, 3, 4, 5, 6, 10, 11, 500)] == [
        "1", "2", "3", "4-5", "4-5", "6-10", "6-10", "11+", "11+"
    ]  # fmt: skip
    assert NAMES == ("1", "2", "3", "4-5", "6-10", "11+")


def test_an_empty_prefix_has_no_bucket() -> None:
    with pytest.raises(ValueError, match=">= 1"):
        bucket_index(0)
