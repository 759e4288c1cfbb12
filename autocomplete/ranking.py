"""The contract every ranker meets, so the evaluator, the server and benchmarks can swap them.

A ranker is pure: `complete(context, prefix, k)` gets everything it may use as plain values
(`Context`: the session's previous queries, the user's history, the time) and never knows that
a session store exists. Every ranker takes the whole context; one that has no use for a part
of it (MPC ignores all of it) simply ignores it, so callers never ask what a ranker supports.
"""

from __future__ import annotations

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
