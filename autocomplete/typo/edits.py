"""The edit engine of spelling correction: every one-edit variant of a string, probed at once.

Damerau-Levenshtein edits (deletions, adjacent swaps, substitutions, insertions) of a byte
string are spelled by one numpy gather (`edit_plan`, `variants`) and looked up in sorted
fixed-width keys (`KeyTable`) by one `searchsorted`; the common prefix with the neighbouring
keys says how far into the keys each variant gets. `vocabulary` makes the key table of the
index's words. The correction policy that decides which variants to try and which to keep
is `corrector.TypoCorrector`.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from autocomplete.model.labels import SORTKEY_BYTES, LabelIndex

#: key width in bytes (UTF-8, NUL-padded): the labels' sort keys
W = SORTKEY_BYTES
_SPACE = 0x20
_COLUMNS = np.arange(W)
#: _LEAD[n]: a key's W bytes as W // 8 machine words, with the first n bytes' bits set
_LEAD = np.ascontiguousarray(
    np.where(_COLUMNS[None, :] < np.arange(W + 1)[:, None], 0xFF, 0).astype(np.uint8)
).view(np.uint64)


@lru_cache(maxsize=4096)
def edit_plan(n: int, lo: int, hi: int, a: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gather indices that make every one-edit variant of an n-byte string at once.

    Row r picks bytes of `s + alphabet + b"\\0"` (a alphabet bytes; index n + a is the zero
    padding) and spells a variant with its edit at position lo..hi: deletions, transpositions
    with the next byte, substitutions, insertions before. Returns (rows (m, W), byte lengths,
    edit positions). A row may equal s (a byte replaced by itself): callers drop it.
    """
    pad = n + a
    j = np.arange(W)
    at = np.arange(max(lo, 0), min(hi, n) + 1)  # insertions may also go at the very end
    inner = at[at < n]
    swap = inner[inner + 1 < n]
    c = n + np.arange(a)

    def cut(idx: np.ndarray, length: int) -> np.ndarray:
        return np.where(j < length, idx, pad).reshape(-1, W)

    dele = cut(np.where(j < inner[:, None], j, j + 1), n - 1)
    tr = np.where(j == swap[:, None], j + 1, np.where(j == swap[:, None] + 1, j - 1, j))
    sub = np.where(j == inner[:, None, None], c[None, :, None], j)
    ins = np.where(
        j < at[:, None, None], j, np.where(j == at[:, None, None], c[None, :, None], j - 1)
    )
    blocks = [(dele, n - 1, inner), (cut(tr, n), n, swap)]
    blocks += [(cut(sub, n), n, np.repeat(inner, a)), (cut(ins, n + 1), n + 1, np.repeat(at, a))]
    rows = np.concatenate([b for b, _, _ in blocks]).astype(np.intp)
    lens = np.concatenate([np.full(len(b), min(m, W)) for b, m, _ in blocks])
    where = np.concatenate([w for _, _, w in blocks])
    return rows, lens, where


def variants(s: bytes, alphabet: bytes, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
    """One-edit variants of `s` with the edit at lo..hi, as (uint8 rows (m, W), lengths)."""
    src = np.frombuffer(s + alphabet + b"\0", dtype=np.uint8)
    idx, lens, _ = edit_plan(len(s), lo, hi, len(alphabet))
    return src[idx], lens


class KeyTable:
    """Sorted keys of W bytes (UTF-8, NUL-padded) with counts, probed many at a time."""

    def __init__(self, keys: np.ndarray, counts: np.ndarray) -> None:
        self.keys = keys
        self.rows = keys.view(np.uint8).reshape(-1, W)
        self.packed = keys.view(np.uint64).reshape(-1, W // 8)  # the same bytes, 8 at a time
        # the beam's variants of one search often share their start, and so do a typist's
        # searches keystroke after keystroke
        self.followers = lru_cache(maxsize=4096)(self.followers)  # type: ignore[method-assign]
        self.counts = counts
        self.cum = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        self.n = len(keys)

    @classmethod
    def of(cls, index: LabelIndex) -> KeyTable:
        return cls(index.sortkeys, index.counts)

    def _needles(self, rows: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(rows).view(self.keys.dtype).ravel()

    def span(self, head: bytes) -> tuple[int, int]:
        """The keys [lo, hi) that start with `head` (all of them for b"")."""
        if not head:
            return 0, self.n
        lo = int(self.keys.searchsorted(head))
        return lo, int(self.keys.searchsorted(head + b"\xff"))

    def followers(self, head: bytes, alphabet: bytes) -> bytes:
        """The bytes of `alphabet` that keys starting with `head` hold at either of the two
        positions after it, in alphabet order.

        A substitution or insertion at those positions of a string that starts with `head`
        can be extended by a key only with one of these bytes: variants spelled from this
        alphabet instead of the whole one are the same live variants in the same order,
        out of far fewer rows.
        """
        lo, hi = self.span(head)
        n = len(head)
        present = np.zeros(256, dtype=bool)
        present[self.rows[lo:hi, n : n + 2]] = True
        chars = np.frombuffer(alphabet, dtype=np.uint8)
        return chars[present[chars]].tobytes()

    def reach(
        self, rows: np.ndarray, lens: np.ndarray, within: tuple[int, int] | None = None
    ) -> np.ndarray:
        """Per variant, the length of its longest leading part some key starts with: equal to
        its length when some key extends it.

        `within`: the `span` of a start every variant shares (the bytes before the first
        edit). Only keys starting with it can share more with a variant than it, so when some
        key does, the search runs among those few instead of all keys.
        """
        lo, hi = within or (0, self.n)
        if hi <= lo:
            lo, hi = 0, self.n
        keys, krows = self.keys[lo:hi], self.rows[lo:hi]
        pos = keys.searchsorted(self._needles(rows), "left")
        # the longest common prefix with any key is reached at a sorted neighbour; a clipped
        # neighbour is still a real key, so its (shorter) common prefix does no harm
        nb = np.stack([np.maximum(pos - 1, 0), np.minimum(pos, hi - lo - 1)])
        diff = krows[nb] != rows
        lcp = np.where(diff.any(axis=2), diff.argmax(axis=2), W).max(axis=0)
        return np.minimum(lcp, lens)

    def extended(
        self, rows: np.ndarray, lens: np.ndarray, within: tuple[int, int] | None = None
    ) -> np.ndarray:
        """Per variant, whether some key starts with it: `reach(rows, lens) >= lens` for
        half the work. Variants are NUL-padded and no key byte sorts below NUL, so if any
        key extends a variant, the first key not below it does: one neighbour, and no
        common-prefix length to find. The variant's first `lens` bytes are compared with
        that neighbour's eight at a time (`_LEAD`). `within`: as for `reach`."""
        lo, hi = within or (0, self.n)
        if hi <= lo:
            return np.zeros(len(lens), dtype=bool)
        pos = np.minimum(self.keys[lo:hi].searchsorted(self._needles(rows), "left"), hi - lo - 1)
        got = self.packed[pos + lo]
        want = np.ascontiguousarray(rows).view(np.uint64)
        return (((got ^ want) & _LEAD[lens]) == 0).all(axis=1)  # type: ignore[no-any-return]

    def reach_one(self, s: bytes) -> int:
        """`reach` of a single string, without the batch machinery (s shorter than W)."""
        pos = int(self.keys.searchsorted(s))
        best = 0
        for j in (pos - 1, pos):
            if 0 <= j < self.n:
                k = bytes(self.keys[j])
                n = 0
                for a, b in zip(k, s, strict=False):
                    if a != b:
                        break
                    n += 1
                best = max(best, n)
        return best

    def prefix_counts(self, rows: np.ndarray, lens: np.ndarray) -> np.ndarray:
        """Total count of the keys extending each variant (lens < W)."""
        lo = self.keys.searchsorted(self._needles(rows), "left")
        end = rows.copy()
        end[np.arange(len(lens)), lens] = 0xFF  # never in UTF-8: sorts after every extension
        hi = self.keys.searchsorted(self._needles(end), "left")
        return self.cum[hi] - self.cum[lo]

    def exact_counts(self, rows: np.ndarray) -> np.ndarray:
        """Count of the key equal to each variant (0 when there is none)."""
        needles = self._needles(rows)
        pos = np.minimum(self.keys.searchsorted(needles, "left"), self.n - 1)
        return np.where(self.keys[pos] == needles, self.counts[pos], 0)


def vocabulary(tables: Sequence[LabelIndex]) -> KeyTable:
    """The words of the index with counts: the first word of every key (a label's first
    word; for query endings, one of a query's last four words), summed over the keys'
    counts. A word met only in the middle of long queries is missing: taken as unknown.

    Keys are sorted and the space sorts before every other character, so the first words
    of a table come out sorted too: runs of equal words are merged without a sort.
    """
    words, counts = [], []
    for t in tables:
        rows = t.sortkeys.view(np.uint8).reshape(-1, W)
        sp = rows == _SPACE
        has = sp.any(axis=1)
        end = np.where(has, sp.argmax(axis=1), W)
        whole = has | (rows[:, -1] == 0)  # the first word ends inside the W bytes
        cut = np.where(np.arange(W)[None, :] >= end[:, None], 0, rows)[whole]
        w = np.ascontiguousarray(cut).view(t.sortkeys.dtype).ravel()
        start = np.concatenate([[True], w[1:] != w[:-1]])
        idx = np.nonzero(start)[0]
        words.append(w[idx])
        counts.append(np.add.reduceat(np.asarray(t.counts)[whole], idx) if len(idx) else idx)
    allw = np.concatenate(words)
    uniq, inv = np.unique(allw, return_inverse=True)
    total = np.bincount(inv, weights=np.concatenate(counts)).astype(np.int64)
    return KeyTable(uniq, total)
