"""A bounded memo counts what it was asked and what it had to compute, and never holds more
than its capacity."""

from __future__ import annotations

from functools import lru_cache

from autocomplete.model.memo import Memo, MemoStats, lru_stats


def test_a_memo_counts_hits_and_misses_and_empties_when_full() -> None:
    memo: Memo[str, int] = Memo(3)
    for key in ["a", "b", "a", "c", "a", "d", "e"]:
        memo.lookups += 1
        if memo.data.get(key) is None:
            memo.store(key, len(key))
        assert len(memo.data) <= 3
    # a, b, (a), c, (a), then d finds it full: emptied, d and e held
    assert memo.stats() == MemoStats(hits=2, misses=5, size=2)
    assert set(memo.data) == {"d", "e"}


def test_lru_statistics_and_their_sum_over_two_memos() -> None:
    @lru_cache(maxsize=2)
    def double(x: int) -> int:
        return 2 * x

    for x in (1, 1, 2, 3):
        double(x)
    assert lru_stats(double) == MemoStats(hits=1, misses=3, size=2)
    assert lru_stats(double).plus(MemoStats(4, 5, 6)) == MemoStats(5, 8, 8)


def test_a_per_session_memo_drops_only_its_oldest_entry_and_renews_a_stored_one() -> None:
    memo: Memo[str, int] = Memo(2, oldest_out=True)
    for key in ["a", "b"]:
        memo.store(key, 1)
    memo.put("a", 2)  # stored again: now the newest
    memo.store("c", 3)  # full: "b", the oldest, goes; the others stay
    assert list(memo.data.items()) == [("a", 2), ("c", 3)]
    assert len(memo) == 2
    memo.clear()
    assert not memo
