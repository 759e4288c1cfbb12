"""Answers to context-free keystrokes, remembered: the same (prefix, k) is ranked once per
index.

Why: many people type the same short prefixes with the same (usually empty) session behind
them, and at one to three characters the blend is at its most expensive (the model scores
thousands of labels). Without a personal history every ranker here is a pure function of
(index, previous queries, prefix, k): the time is read only to age history items. So the
answer can be kept and served again, exactly as the ranker would give it.

What is never cached: a keystroke with a personal history (its features move with the clock,
and one user's items must never reach another), and a keystroke with previous queries in its
session. The cache is shared by everyone a worker serves, so a fast answer to (previous
query Q, prefix P) would tell a prober that someone recently typed P after searching Q: a
timing oracle on other people's sessions. Without a session context the key is only what
was typed, which says nothing about anyone (and it is where most repeats are: people start
with the same short prefixes). A session's own repeats are reused per connection instead
(`XMRKeystroke`'s narrowing). Fresh queries and the blocklist are applied
by the server *after* the ranker (`server.assemble`), on every keystroke, so neither a new
fresh snapshot nor a blocklist reload can be served stale from here. The cache belongs to one
loaded index (a new index is a new ranker, and so a new, empty cache).

Bounded: at most `capacity` answers, least recently used dropped first. `warm` ranks the
shortest prefixes before the first visitor does (the server warms the index's heavy ones).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable

from .ranking import ANONYMOUS, Completion, Context, Ranker

#: Default number of answers kept per worker (~1.5 KB each with k = 10).
DEFAULT_CAPACITY = 10_000

Key = tuple[str, int]  # (prefix, k): the whole input of a context-free keystroke


class CachedRanker:
    """A `Ranker` that answers repeated context-free keystrokes from memory.

    ranker: the ranker whose answers are kept; it must ignore `Context.now` when the context
        has no history (every ranker of this package does).
    capacity: answers kept at most (>= 1).
    observe: called with (hit, size) after every anonymous lookup (the server's metrics).
    """

    def __init__(
        self,
        ranker: Ranker,
        capacity: int = DEFAULT_CAPACITY,
        observe: Callable[[bool, int], None] | None = None,
    ) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        self.ranker = ranker
        self.capacity = capacity
        self.observe = observe
        self.hits = 0
        self.misses = 0
        self._answers: OrderedDict[Key, tuple[Completion, ...]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._answers)

    def complete(self, context: Context, prefix: str, k: int = 10) -> list[Completion]:
        if context.history or context.previous:
            return self.ranker.complete(context, prefix, k)
        key = (prefix, k)
        got = self._answers.get(key)
        hit = got is not None
        if got is not None:
            self._answers.move_to_end(key)
            self.hits += 1
        else:
            got = self._remember(key, context)
            self.misses += 1
        if self.observe is not None:
            self.observe(hit, len(self._answers))
        return list(got)

    def warm(self, prefixes: Iterable[str], k: int) -> int:
        """Rank each prefix for a visitor with no session yet, before anyone types it: the
        shortest prefixes (the index's heavy ones) are the costliest to rank and the ones
        most visitors type first. Returns how many answers the cache then holds."""
        for prefix in prefixes:
            if prefix and (prefix, k) not in self._answers:
                self._remember((prefix, k), ANONYMOUS)
        return len(self._answers)

    def _remember(self, key: Key, context: Context) -> tuple[Completion, ...]:
        """Rank `key` for `context` (context-free), keep the answer, drop the least recently
        used one beyond `capacity`."""
        prefix, k = key
        answer = tuple(self.ranker.complete(context, prefix, k))
        self._answers[key] = answer
        if len(self._answers) > self.capacity:
            self._answers.popitem(last=False)
        return answer

    def clear(self) -> None:
        self._answers.clear()
