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


def edits1(s: str, alphabet: str, lo: int = 0, hi: int | None = None) -> set[str]:
    """Every string one Damerau-Levenshtein edit away from `s` (s itself excluded), with the
    edit at a position in [lo, hi] (default: anywhere)."""
    hi = len(s) if hi is None else min(hi, len(s))
    splits = [(s[:i], s[i:]) for i in range(max(lo, 0), hi + 1)]
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

    def __init__(
        self, labels: LabelIndex, min_len: int = 4, per_variant: int = 3, max_past_falloff: int = 4
    ) -> None:
        self.labels = labels
        self.min_len = min_len
        self.per_variant = per_variant
        self.max_past_falloff = max_past_falloff
        # the alphabet of the labels' leading bytes: characters that can occur in a prefix
        chars: set[str] = set()
        for key in np.unique(labels.sortkeys.view(np.uint8)).tolist():
            if 32 <= key < 127:
                chars.add(chr(key))
        self.alphabet = "".join(sorted(chars))

    def falloff(self, prefix: str) -> int:
        """Length of the longest leading part of `prefix` that some label extends."""
        lo, hi = 0, len(prefix)
        while lo < hi:  # binary search: extendable prefixes are closed under shortening
            mid = (lo + hi + 1) >> 1
            a, b = self.labels.range(prefix[:mid])
            if b > a:
                lo = mid
            else:
                hi = mid - 1
        return lo

    def corrections(self, prefix: str, n: int) -> list[Correction]:
        """Up to n labels, most popular first, extending some variant of `prefix`.

        A variant can only extend a label if the edit sits at or just before the point where
        the prefix falls off the label trie (everything before it matched), so edits are tried
        around that point only; and only while the user is at most `max_past_falloff`
        characters past it (further on they are typing something new, not mistyping).
        """
        if len(prefix) < self.min_len:
            return []
        m = self.falloff(prefix)
        if m == len(prefix) or len(prefix) - m > self.max_past_falloff:
            return []
        variants = sorted(edits1(prefix, self.alphabet, m - 1, m + 1))
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
