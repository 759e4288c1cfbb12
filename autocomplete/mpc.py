"""Most popular completion: the standard QAC baseline and every other ranker's fallback."""

from __future__ import annotations

from autocomplete.model.labels import LabelIndex

from .ranking import Completion, Context


class MPCRanker:
    """Top-k training queries by count among those extending the prefix; ignores the context.

    Score = the label's share of all training queries, so scores are comparable across prefixes.
    """

    def __init__(self, labels: LabelIndex) -> None:
        self.labels = labels
        total = float(labels.counts.sum()) or 1.0
        self._norm = 1.0 / total

    def complete(self, context: Context, prefix: str, k: int = 10) -> list[Completion]:
        if k <= 0:
            return []
        ids = self.labels.top_popular(prefix, k)
        counts = self.labels.counts
        text = self.labels.text
        return [Completion(text(i), float(counts[i]) * self._norm, "index") for i in ids.tolist()]
