"""Bounded memos of the ranking runtime, and the statistics the server exports of each.

Every memo a worker keeps is bounded and observable: an operator sizing a worker reads its
hit rate and entries in `/metrics` (`qac_prefix_memo_lookups_total{memo,result}`,
`qac_prefix_memo_entries{memo}`). `functools.lru_cache` memos count in C through `cache_info`;
the dict memos are `Memo`s, read inline by their owners (`Memo.data.get`): a lookup is one
dict read and one counter, and the hottest, label texts, are asked for a batch at a time
(`LabelIndex.texts`: one counter per batch).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, NamedTuple, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class MemoStats(NamedTuple):
    """One memo's lookups so far (hits, misses) and its entries now."""

    hits: int
    misses: int
    size: int

    def plus(self, other: MemoStats) -> MemoStats:
        """Two memos of one kind (the same memo of two tables) counted as one."""
        return MemoStats(self.hits + other.hits, self.misses + other.misses, self.size + other.size)


def lru_stats(memo: Callable[..., Any]) -> MemoStats:
    """The statistics of a `functools.lru_cache`-wrapped function."""
    info = memo.cache_info()  # type: ignore[attr-defined]
    return MemoStats(info.hits, info.misses, info.currsize)


class Memo(Generic[K, V]):
    """A dict of at most `capacity` answers that counts its lookups.

    By default emptied when full rather than evicted one by one: its owners answer one
    keystroke's many questions about one prefix, so what a full memo loses is cheap to find
    again, and the hot path stays a plain dict read. With `oldest_out` it drops only its
    oldest entry instead: a memo per session, which emptied would take every typing
    session's entry away at the same moment. The owner reads `data.get(key)`, adds one to
    `lookups`, and `store`s what it had to compute (a miss).
    """

    __slots__ = ("data", "capacity", "oldest_out", "lookups", "misses")

    def __init__(self, capacity: int, oldest_out: bool = False) -> None:
        self.data: dict[K, V] = {}
        self.capacity = capacity
        self.oldest_out = oldest_out
        self.lookups = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self.data)

    def clear(self) -> None:
        self.data.clear()

    def store(self, key: K, value: V) -> V:
        """Remember an answer the lookup did not find (counted as a miss); returns it."""
        self.misses += 1
        return self.put(key, value)

    def put(self, key: K, value: V) -> V:
        """Remember an answer without counting a lookup (one made from a hit); returns it.
        With `oldest_out` it becomes the newest entry."""
        data = self.data
        if self.oldest_out:
            data.pop(key, None)
            data[key] = value
            if len(data) > self.capacity:
                del data[next(iter(data))]
        else:
            if len(data) >= self.capacity:
                data.clear()
            data[key] = value
        return value

    def stats(self) -> MemoStats:
        return MemoStats(self.lookups - self.misses, self.misses, len(self.data))
