"""Sorted string tables beside the labels: query endings and previous->next transitions.

Both reuse the label structure (`autocomplete.model.labels`): strings in code-point order,
so every lookup the ranker needs is one contiguous id range.

- endings: every proper word suffix of every training query ("york times", "times" for
  "new york times"), counted by the query's frequency. Completing the typed words with a
  popular ending that extends the partial last word makes queries nobody typed before
  (Mitra & Craswell, CIKM 2015, "synthetic suggestions"); 60% of test queries are unseen.
- transitions: "q_prev SEP q_next" for every consecutive pair of a training session; the
  range of "q_prev SEP prefix" is exactly the next queries that extend the prefix.

Strangers see both: a build keeps only the endings and pairs at least K distinct users
issued (`indexer.kanon`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Container, Iterable

import numpy as np

from autocomplete.model.labels import LabelTable, transition_key

#: endings longer than this many words are rare and only bloat the table
MAX_ENDING_WORDS = 4


def word_endings(q: str) -> list[str]:
    """The proper word suffixes of `q` (1..MAX_ENDING_WORDS words), longest first."""
    words = q.split(" ")
    return [" ".join(words[j:]) for j in range(max(1, len(words) - MAX_ENDING_WORDS), len(words))]


def endings_table(
    queries: Counter[str], min_count: int = 1, shown: Container[str] | None = None
) -> LabelTable:
    """Proper word suffixes (1..MAX_ENDING_WORDS words) of every query, weighted by its count.

    `shown`: keep only these endings (the k-anonymous ones, `indexer.kanon`); None keeps all.
    """
    c: Counter[str] = Counter()
    for q, n in queries.items():
        for e in word_endings(q):
            c[e] += n
    texts = sorted(
        t for t, n in c.items() if n >= min_count and t and (shown is None or t in shown)
    )
    return LabelTable(texts, np.fromiter((c[t] for t in texts), dtype=np.int64, count=len(texts)))


def transitions_table(pairs: Iterable[tuple[str, str]]) -> LabelTable:
    """Counts of q_prev -> q_next within sessions (first queries, with no q_prev, skipped)."""
    return LabelTable.from_queries(transition_key(p, q) for p, q in pairs if p and p != q)
