"""Simple rule-based peers measured beside our rankers (`docs/architecture.md`, "Peers").

- TransitionRule: queries that followed the previous query in training, most frequent
  first, then MPC.
- PersonalRule: the user's own past queries that extend the prefix, most frequent first,
  then MPC.
Both reuse the index's tables, so they see exactly the data our ranker sees.
"""

from __future__ import annotations

from autocomplete.model.labels import SEP, LabelIndex
from autocomplete.mpc import MPCRanker
from autocomplete.ranking import ANONYMOUS, Completion, Context


def _fill(first: list[Completion], mpc: MPCRanker, prefix: str, k: int) -> list[Completion]:
    seen = {c.text for c in first}
    out = list(first[:k])
    for c in mpc.complete(ANONYMOUS, prefix, k + len(out)):
        if len(out) >= k:
            break
        if c.text not in seen:
            out.append(c)
            seen.add(c.text)
    return out


class TransitionRule:
    def __init__(self, transitions: LabelIndex, mpc: MPCRanker) -> None:
        self.tr, self.mpc = transitions, mpc

    def complete(self, context: Context, prefix: str, k: int = 10) -> list[Completion]:
        first: list[Completion] = []
        if context.previous:
            key = context.previous[-1] + SEP
            ids = self.tr.top_popular(key + prefix, k).tolist()
            first = [Completion(self.tr.text(i)[len(key) :], float(self.tr.counts[i])) for i in ids]
        return _fill(first, self.mpc, prefix, k)


class PersonalRule:
    def __init__(self, mpc: MPCRanker) -> None:
        self.mpc = mpc

    def complete(self, context: Context, prefix: str, k: int = 10) -> list[Completion]:
        mine = sorted(
            (h for h in context.history if h.query.startswith(prefix)),
            key=lambda h: (-h.count, -h.last_used),
        )
        first = [Completion(h.query, float(h.count), "history") for h in mine[:k]]
        return _fill(first, self.mpc, prefix, k)
