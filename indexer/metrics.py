"""Quality metrics for autocompletion, pure and unit-tested on hand-computed cases.

Every keystroke is scored (`docs/architecture.md`, "Metrics"): for each proper prefix, the
reciprocal rank of the true next query in the top 10, success@1/@10, and BLEU-4 of the top
suggestion. Results are kept per prefix-length bucket (`autocomplete.model.buckets`) and for
"all" vs "seen" (target is a label) examples.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from autocomplete.model.buckets import NAMES, bucket_of


def reciprocal_rank(target: str, suggestions: Sequence[str], k: int = 10) -> float:
    """1/rank of `target` among the first k suggestions, else 0."""
    for i, s in enumerate(suggestions[:k]):
        if s == target:
            return 1.0 / (i + 1)
    return 0.0


def _ngrams(words: Sequence[str], n: int) -> Counter[tuple[str, ...]]:
    return Counter(tuple(words[i : i + n]) for i in range(len(words) - n + 1))


def bleu4(hypothesis: str, reference: str) -> float:
    """Sentence BLEU-4 over words, with add-one smoothing for 2..4-grams (Lin & Och's BLEU+1).

    Queries are short, so unsmoothed BLEU-4 is 0 for any query under four words; add-one on
    the higher orders keeps an exact two-word match at 1.0 and a partial match in between.
    The unigram precision is not smoothed: no shared word gives 0.
    """
    hyp, ref = hypothesis.split(), reference.split()
    if not hyp or not ref:
        return 0.0
    log_p = 0.0
    for n in range(1, 5):
        h, r = _ngrams(hyp, n), _ngrams(ref, n)
        match = sum(min(c, r[g]) for g, c in h.items())
        total = max(len(hyp) - n + 1, 0)
        if n == 1:
            if match == 0:
                return 0.0
            log_p += math.log(match / total)
        else:
            log_p += math.log((match + 1) / (total + 1))
    bp = 1.0 if len(hyp) >= len(ref) else math.exp(1 - len(ref) / len(hyp))
    return bp * math.exp(log_p / 4)


@dataclass
class _Acc:
    n: int = 0
    rr: float = 0.0
    s1: int = 0
    s10: int = 0
    bleu: float = 0.0

    def add(self, rr: float, bleu: float) -> None:
        self.n += 1
        self.rr += rr
        self.s1 += rr == 1.0
        self.s10 += rr > 0.0
        self.bleu += bleu

    def table(self) -> dict[str, float | int]:
        n = self.n or 1
        return {
            "n": self.n,
            "mrr@10": self.rr / n,
            "success@1": self.s1 / n,
            "success@10": self.s10 / n,
            "bleu4": self.bleu / n,
        }


@dataclass
class QualityReport:
    """Accumulates per-keystroke outcomes; `to_dict()` gives {"all"|"seen": {bucket: row}},
    and "first"|"later" too once a keystroke said which it was."""

    k: int = 10
    _acc: dict[tuple[str, str], _Acc] = field(default_factory=dict)

    def add(
        self,
        prefix: str,
        target: str,
        suggestions: Sequence[str],
        seen: bool,
        first: bool | None = None,
    ) -> float:
        """Score one keystroke; returns its reciprocal rank. An empty prefix (the box focused,
        nothing typed yet) counts in "overall" only: it has no bucket. `first`: when given,
        the keystroke also counts in "first" (the session's first query: nothing searched
        before it, so no context to use) or "later"."""
        rr = reciprocal_rank(target, suggestions, self.k)
        bl = bleu4(suggestions[0], target) if suggestions else 0.0
        keys = ("overall", bucket_of(len(prefix))) if prefix else ("overall",)
        groups: tuple[str, ...] = ("all", "seen") if seen else ("all",)
        if first is not None:
            groups += ("first",) if first else ("later",)
        for g in groups:
            for key in keys:
                self._acc.setdefault((g, key), _Acc()).add(rr, bl)
        return rr

    def merge(self, other: QualityReport) -> None:
        for key, a in other._acc.items():
            mine = self._acc.setdefault(key, _Acc())
            mine.n += a.n
            mine.rr += a.rr
            mine.s1 += a.s1
            mine.s10 += a.s10
            mine.bleu += a.bleu

    def to_dict(self) -> dict[str, dict[str, dict[str, float | int]]]:
        out: dict[str, dict[str, dict[str, float | int]]] = {}
        split = any(g in ("first", "later") for g, _ in self._acc)
        for g in ("all", "seen", "first", "later") if split else ("all", "seen"):
            rows = {}
            for b in ("overall", *NAMES):
                if (g, b) in self._acc:
                    rows[b] = self._acc[(g, b)].table()
            out[g] = rows
        return out


def format_table(report: dict[str, Any], title: str = "") -> str:
    """A fixed-width table of a `QualityReport.to_dict()` result."""
    lines = [title] if title else []
    lines.append(
        f"{'set':<5} {'bucket':<8} {'n':>8} {'MRR@10':>8} {'S@1':>7} {'S@10':>7} {'BLEU4':>7}"
    )
    for g, rows in report.items():
        for b, r in rows.items():
            lines.append(
                f"{g:<5} {b:<8} {r['n']:>8} {r['mrr@10']:>8.4f} {r['success@1']:>7.4f} "
                f"{r['success@10']:>7.4f} {r['bleu4']:>7.4f}"
            )
    return "\n".join(lines)
