"""Personal history as the offline evaluator and the tuner replay it.

The server keeps each user's last N distinct queries with counts and last-used times in the
session store. Offline we rebuild exactly that, user by user in time order: everything the
user issued before the evaluated period is their past, and each evaluated query joins the
history after it has been scored, so offline figures predict what the server will do.
"""

from __future__ import annotations

from collections import OrderedDict, defaultdict
from collections.abc import Iterator, Sequence

from indexer.sessions import Example, Session, query_examples

HistoryItems = tuple[tuple[str, int, float], ...]


class PersonalHistory:
    """One user's last `size` distinct queries: query -> (count, last_used), LRU-trimmed."""

    __slots__ = ("size", "_items")

    def __init__(self, size: int = 200) -> None:
        self.size = size
        self._items: OrderedDict[str, tuple[int, float]] = OrderedDict()

    def record(self, query: str, when: float) -> None:
        count, _ = self._items.pop(query, (0, 0.0))
        self._items[query] = (count + 1, when)
        while len(self._items) > self.size:
            self._items.popitem(last=False)

    def snapshot(self) -> HistoryItems:
        return tuple((q, c, t) for q, (c, t) in self._items.items())

    def __len__(self) -> int:
        return len(self._items)


def examples_with_history(
    past: Sequence[Session], evaluated: Sequence[Session], size: int = 200
) -> Iterator[tuple[Example, HistoryItems]]:
    """Every keystroke example of `evaluated`, with the user's history as it stood then.

    `past` sessions (any users) seed each user's history; then each evaluated query is
    scored on all its prefixes before it is recorded.
    """
    hist: defaultdict[str, PersonalHistory] = defaultdict(lambda: PersonalHistory(size))
    for s in sorted(past, key=lambda s: s.times[0]):
        h = hist[s.user]
        for q, t in zip(s.queries, s.times, strict=True):
            h.record(q, t)
    for s in evaluated:
        h = hist[s.user]
        for j, (q, t) in enumerate(zip(s.queries, s.times, strict=True)):
            snap = h.snapshot()
            for ex in query_examples(s, j):
                yield ex, snap
            h.record(q, t)
