"""Simple rule-based peers measured beside our rankers (DESIGN.md "Peers" and the issues).

- TransitionRule: queries that followed the previous query in training, most frequent
  first, then MPC.
- PersonalRule: the user's own past queries that extend the prefix, most frequent first,
  then MPC (issue 9's "plain rule").
Both reuse the index's tables, so they see exactly the data our ranker sees.
"""

from __future__ import annotations

from collections.abc import Sequence

from autocomplete.mpc import MPCRanker
from autocomplete.ranking import Completion
from indexer.labels import LabelIndex
from indexer.tables import SEP


def _fill(first: list[Completion], mpc: MPCRanker, prefix: str, k: int) -> list[Completion]:
    seen = {c.text for c in first}
    out = list(first[:k])
    for c in mpc.complete((), prefix, k + len(out)):
        if len(out) >= k:
            break
        if c.text not in seen:
            out.append(c)
            seen.add(c.text)
    return out


class TransitionRule:
    def __init__(self, transitions: LabelIndex, mpc: MPCRanker) -> None:
        self.tr, self.mpc = transitions, mpc

    def complete(self, prev_queries: Sequence[str], prefix: str, k: int = 10) -> list[Completion]:
        first: list[Completion] = []
        if prev_queries:
            key = prev_queries[-1] + SEP
            ids = self.tr.top_popular(key + prefix, k).tolist()
            first = [Completion(self.tr.text(i)[len(key) :], float(self.tr.counts[i])) for i in ids]
        return _fill(first, self.mpc, prefix, k)


class PersonalRule:
    supports_history = True

    def __init__(self, mpc: MPCRanker) -> None:
        self.mpc = mpc

    def complete(
        self,
        prev_queries: Sequence[str],
        prefix: str,
        k: int = 10,
        history: Sequence[tuple[str, int, float]] = (),
        now: float | None = None,
    ) -> list[Completion]:
        mine = sorted((h for h in history if h[0].startswith(prefix)), key=lambda h: (-h[1], -h[2]))
        first = [Completion(q, float(c), "history") for q, c, _ in mine[:k]]
        return _fill(first, self.mpc, prefix, k)
