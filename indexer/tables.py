"""Sorted string tables beside the labels: query endings and previous->next transitions.

Both reuse the label structure (`write_labels` / `LabelIndex`): strings in code-point order,
so every lookup the ranker needs is one contiguous id range.

- endings: every proper word suffix of every training query ("york times", "times" for
  "new york times"), counted by the query's frequency. Completing the typed words with a
  popular ending that extends the partial last word makes queries nobody typed before
  (Mitra & Craswell, CIKM 2015, "synthetic suggestions"); 60% of test queries are unseen.
- transitions: "q_prev SEP q_next" for every consecutive pair of a training session; the
  range of "q_prev SEP prefix" is exactly the next queries that extend the prefix.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

import numpy as np

from .labels import LabelTable

#: separates q_prev from q_next in a transition key; normalisation removes it from queries
SEP = "\x1f"

#: endings longer than this many words are rare and only bloat the table
MAX_ENDING_WORDS = 4


def endings_table(queries: Counter[str], min_count: int = 1) -> LabelTable:
    """Proper word suffixes (1..MAX_ENDING_WORDS words) of every query, weighted by its count."""
    c: Counter[str] = Counter()
    for q, n in queries.items():
        words = q.split(" ")
        for j in range(max(1, len(words) - MAX_ENDING_WORDS), len(words)):
            c[" ".join(words[j:])] += n
    texts = sorted(t for t, n in c.items() if n >= min_count and t)
    return LabelTable(texts, np.fromiter((c[t] for t in texts), dtype=np.int64, count=len(texts)))


def transitions_table(pairs: Iterable[tuple[str, str]]) -> LabelTable:
    """Counts of q_prev -> q_next within sessions (first queries, with no q_prev, skipped)."""
    return LabelTable.from_queries(f"{p}{SEP}{q}" for p, q in pairs if p and p != q)
