"""The contract every ranker meets, so the evaluator, the server and benchmarks can swap them.

A ranker is pure: it receives the session's previous queries as a plain argument and never
knows that a session store exists (STYLE.md, "pure core, I/O at the edges").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol, runtime_checkable


class Completion(NamedTuple):
    """One suggestion. A tuple so `(text, score)` unpacking keeps working for simple callers.

    `source` is what the wire protocol reports: "index" (a label of the index),
    "history" (the user's own past query) or "generated" (a never-seen query made from the
    typed words plus a popular ending).
    """

    text: str
    score: float
    source: str = "index"


@dataclass(frozen=True)
class QueryContext:
    """Everything a ranker may know about who is typing, besides the prefix.

    prev_queries: the session's previous queries, most recent LAST (may be empty).
    history: the user's personal past queries as (query, count, last_used_unix) tuples,
        any order (may be empty). Rankers that do not personalise ignore it.
    """

    prev_queries: tuple[str, ...] = ()
    history: tuple[tuple[str, int, float], ...] = field(default=())


@runtime_checkable
class Ranker(Protocol):
    """complete(prev_queries, prefix, k) -> best-first completions extending `prefix`.

    `prefix` is already normalised with `indexer.text.normalize_prefix` by the caller.
    Every returned text starts with `prefix`; at most `k` items; no duplicates.
    """

    def complete(
        self, prev_queries: Sequence[str], prefix: str, k: int = 10
    ) -> list[Completion]: ...
