"""The contract every ranker meets, so the evaluator, the server and benchmarks can swap them.

A ranker is pure: it receives the session's previous queries as a plain argument and never
knows that a session store exists (STYLE.md, "pure core, I/O at the edges").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple, Protocol, runtime_checkable


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
    """complete(prev_queries, prefix, k) -> best-first completions extending `prefix`.

    `prefix` is already normalised with `indexer.text.normalize_prefix` by the caller.
    Every returned text starts with `prefix`; at most `k` items; no duplicates.
    """

    def complete(
        self, prev_queries: Sequence[str], prefix: str, k: int = 10
    ) -> list[Completion]: ...
