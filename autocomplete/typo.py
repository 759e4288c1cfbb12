"""Spelling tolerance: labels that extend a one-edit variant of a prefix nobody completes.

"amazom" and "nwe yo" extend no training query; "amazon" and "new yo" (one substitution,
one transposition away) do. We enumerate the Damerau-Levenshtein distance-1 variants of the
prefix (deletions, transpositions, substitutions, insertions over the index's alphabet) and
test them all at once with one vectorised `searchsorted` over the sorted label keys, so
~600 variants of an 8-character prefix cost one numpy call, not 600 lookups.
One edit from `min_len` characters (4), as the well-known completion suggesters do; two
edits would multiply the variants by ~600 and are left out (see the issue's closing note).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from indexer.labels import SORTKEY_BYTES, LabelIndex


def edits1(s: str, alphabet: str) -> set[str]:
    """Every string one Damerau-Levenshtein edit away from `s` (s itself excluded)."""
    splits = [(s[:i], s[i:]) for i in range(len(s) + 1)]
    out = {a + b[1:] for a, b in splits if b}
    out |= {a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1}
    out |= {a + c + b[1:] for a, b in splits if b for c in alphabet if c != b[0]}
    out |= {a + c + b for a, b in splits for c in alphabet}
    out.discard(s)
    return {v for v in out if v and not v.startswith(" ") and "  " not in v}


@dataclass(frozen=True)
class Correction:
    label: int
    corrected_prefix: str


class TypoCorrector:
    """Finds popular labels extending one-edit variants of a prefix."""

    def __init__(self, labels: LabelIndex, min_len: int = 4, per_variant: int = 3) -> None:
        self.labels = labels
        self.min_len = min_len
        self.per_variant = per_variant
        # the alphabet of the labels' leading bytes: characters that can occur in a prefix
        chars: set[str] = set()
        for key in np.unique(labels.sortkeys.view(np.uint8)).tolist():
            if 32 <= key < 127:
                chars.add(chr(key))
        self.alphabet = "".join(sorted(chars))

    def corrections(self, prefix: str, n: int) -> list[Correction]:
        """Up to n labels, most popular first, extending some variant of `prefix`."""
        if len(prefix) < self.min_len:
            return []
        variants = sorted(edits1(prefix, self.alphabet))
        enc = [v.encode() for v in variants]
        short = [len(b) < SORTKEY_BYTES for b in enc]
        if not any(short):
            return self._slow(variants, n)
        keys = self.labels.sortkeys
        dt = keys.dtype  # needles of the haystack's own dtype: no per-call cast of the haystack
        kept = [b for b, s in zip(enc, short, strict=True) if s]
        lo = keys.searchsorted(np.array(kept, dtype=dt), "left")
        hi = keys.searchsorted(np.array([b + b"\xff" for b in kept], dtype=dt), "left")
        live = np.nonzero(hi > lo)[0]
        found: dict[int, str] = {}
        names = [v for v, s in zip(variants, short, strict=True) if s]
        for j in live.tolist():
            for i in self.labels.top_in_range(int(lo[j]), int(hi[j]), self.per_variant).tolist():
                found.setdefault(i, names[j])
        if len(variants) != len(names):
            for c in self._slow([v for v, s in zip(variants, short, strict=True) if not s], n):
                found.setdefault(c.label, c.corrected_prefix)
        return self._best(found, n)

    def _slow(self, variants: list[str], n: int) -> list[Correction]:
        found: dict[int, str] = {}
        for v in variants:
            lo, hi = self.labels.range(v)
            for i in self.labels.top_in_range(lo, hi, self.per_variant).tolist():
                found.setdefault(i, v)
        return self._best(found, n)

    def _best(self, found: dict[int, str], n: int) -> list[Correction]:
        rank = self.labels.pop_rank
        ids = sorted(found, key=lambda i: int(rank[i]))[:n]
        return [Correction(i, found[i]) for i in ids]
