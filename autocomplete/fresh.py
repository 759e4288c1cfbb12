"""Fresh queries: what people submitted through the server lately, searchable by prefix.

A `FreshIndex` is an immutable snapshot of (query, decayed count) pairs, built from the
counts the session store keeps (`session_store.fresh`); each server worker rebuilds it every
couple of seconds, so a new or trending query becomes a completion within seconds, without
rebuilding the static index. Pure: no I/O, no clock.

The queries are kept sorted, so `extending(prefix, n)` is two bisections (the range of texts
that start with `prefix`) and a numpy partial sort of that range's counts (a one-character
prefix can hold thousands of fresh queries: a Python-keyed heap over them cost ~0.5 ms).
Size is bounded by `max_items` (the most counted queries win).
"""

from __future__ import annotations

import heapq
from bisect import bisect_left
from collections.abc import Iterable

import numpy as np

#: Default bound on the queries one snapshot holds (and the store keeps).
MAX_ITEMS = 20_000
#: Sorts after any character a normalised query holds: `prefix + _HIGHEST` ends the range.
_HIGHEST = "\U0010ffff"


class FreshIndex:
    """Queries with their decayed submit counts; `extending(prefix, n)` is the lookup."""

    __slots__ = ("_counts", "_texts")

    def __init__(self, counts: Iterable[tuple[str, float]] = (), max_items: int = MAX_ITEMS):
        if max_items < 1:
            raise ValueError(f"max_items must be >= 1, got {max_items}")
        best: dict[str, float] = {}
        for text, count in counts:
            if text and count > 0 and count > best.get(text, 0.0):
                best[text] = float(count)
        kept = heapq.nlargest(max_items, best.items(), key=lambda tc: (tc[1], tc[0]))
        kept.sort()
        self._texts = [t for t, _ in kept]
        self._counts = np.array([c for _, c in kept], dtype=np.float64)

    def __len__(self) -> int:
        return len(self._texts)

    def count(self, text: str) -> float:
        """The decayed count of `text`; 0.0 when it is not in the snapshot."""
        i = bisect_left(self._texts, text)
        return float(self._counts[i]) if i < len(self._texts) and self._texts[i] == text else 0.0

    def extending(self, prefix: str, n: int) -> list[tuple[str, float]]:
        """Up to `n` (query, count) pairs whose query starts with `prefix`, highest count
        first (ties: alphabetical). The empty prefix matches everything."""
        if n <= 0:
            return []
        lo = bisect_left(self._texts, prefix)
        hi = bisect_left(self._texts, prefix + _HIGHEST, lo)
        if hi <= lo:  # most keystrokes: nothing fresh extends them, and no array work either
            return []
        c = self._counts[lo:hi]
        if len(c) > 4 * n:  # keep the n largest and every count tied with the n-th
            cut = np.partition(c, len(c) - n)[len(c) - n]
            rows = np.flatnonzero(c >= cut)
        else:
            rows = np.arange(len(c))
        # texts are sorted, so a stable sort by count breaks ties alphabetically
        best = rows[np.argsort(-c[rows], kind="stable")[:n]] + lo
        return [(self._texts[i], float(self._counts[i])) for i in best.tolist()]


EMPTY = FreshIndex()
