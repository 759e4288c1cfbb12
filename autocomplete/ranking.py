"""The contract every ranker meets, so the evaluator, the server and benchmarks can swap them.

A ranker is pure: `complete(context, prefix, k)` gets everything it may use as plain values
(`Context`: the session's previous queries, the user's history, the time) and never knows that
a session store exists. Every ranker takes the whole context; one that has no use for a part
of it (MPC ignores all of it) simply ignores it, so callers never ask what a ranker supports.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple, Protocol, runtime_checkable

from session_store.base import HistoryEntry


@dataclass(frozen=True, slots=True)
class Context:
    """What is known about the person typing, besides the prefix.

    previous: the session's earlier queries, oldest first (normalised).
    history: the user's own past queries with counts and last use (any order; empty for an
        anonymous visitor, who never sees anyone's history).
    now: unix time of the keystroke in seconds; history features measure ages from it.
    """

    previous: tuple[str, ...] = ()
    history: tuple[HistoryEntry, ...] = ()
    now: float = 0.0


ANONYMOUS = Context()

#: above every character of normalised text: `prefix + _TOP` bounds what extends `prefix`
_TOP = "\U0010ffff"


class PrefixHistory(tuple[HistoryEntry, ...]):
    """A user's history (a tuple, as `Context.history` is) that finds the entries extending a
    prefix by bisection instead of a scan.

    A connection types many keystrokes against one history of up to 200 queries; the sorted
    view is made on the first lookup and kept with the tuple, so each later keystroke costs
    two bisections. Built per keystroke it would cost more than the scan it saves.
    """

    _queries: list[str]
    _order: list[int]

    def extending(self, prefix: str) -> list[HistoryEntry]:
        """The entries whose query starts with `prefix`, in the history's own order."""
        try:
            queries, order = self._queries, self._order
        except AttributeError:
            # the first keystroke after each change of the history pays this: a C-level key
            texts = [h.query for h in self]
            order = self._order = sorted(range(len(texts)), key=texts.__getitem__)
            queries = self._queries = [texts[i] for i in order]
        lo = bisect_left(queries, prefix)
        hi = bisect_left(queries, prefix + _TOP, lo)
        return [self[i] for i in sorted(order[lo:hi])]


def extending(history: Sequence[HistoryEntry], prefix: str) -> list[HistoryEntry]:
    """The entries of `history` whose query starts with `prefix`, in its own order."""
    if isinstance(history, PrefixHistory):
        return history.extending(prefix)
    return [h for h in history if h.query.startswith(prefix)]


class Completion(NamedTuple):
    """One suggestion. A tuple so `(text, score)` unpacking keeps working for simple callers.

    `source` is what the wire protocol reports: "index" (a label of the index),
    "history" (the user's own past query), "generated" (a never-seen query made from the
    typed words plus a popular ending) or "fresh" (submitted recently through the server).
    `typed`: how many leading characters of `text` stand for what the user typed, for
    highlighting; -1 means all of the prefix (the usual case: text extends the prefix).
    `corrected`: the text extends a spelling correction of the prefix, not the prefix itself.
    """

    text: str
    score: float
    source: str = "index"
    typed: int = -1
    corrected: bool = False


@runtime_checkable
class Ranker(Protocol):
    """complete(context, prefix, k) -> best-first completions extending `prefix`.

    `prefix` is already normalised with `indexer.text.normalize_prefix` by the caller.
    Every returned text starts with `prefix` (or, marked `corrected`, with a spelling
    correction of it); at most `k` items; no duplicates.
    """

    def complete(self, context: Context, prefix: str, k: int = 10) -> list[Completion]: ...
