"""Sorted string tables: the label set, and beside it the query endings and transitions.

Label ids are ranks in code-point order, so the labels extending a prefix form one
contiguous id range [lo, hi). That single fact serves MPC (top counts in a range), the
trie levels of the hybrid index, and exact scoring of small ranges. The text lives in a
marisa-trie (mmap'd); `key_of_label` / `label_of_key` link its key ids to label ids, as
marisa-trie's own docs suggest for attaching numpy arrays to keys.

An index holds three such tables (`LabelTable.save` writes one, `LabelIndex.load` reads it):
    labels       the training queries strangers may see, with their counts
    endings      proper word suffixes of those queries (`indexer.tables.endings_table`)
    transitions  `transition_key(q_prev, q_next)` for consecutive queries of a session, so
                 the range of `transition_key(q_prev, prefix)` is exactly the next queries
                 extending the prefix
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache

import marisa_trie
import numpy as np

from .artifact import IndexFiles, IndexWriter
from .errors import IndexFormatError
from .memo import Memo, MemoStats, lru_stats

#: the three sorted string tables of an index (see `tables`)
LABELS, ENDINGS, TRANSITIONS = "labels", "endings", "transitions"

#: separates q_prev from q_next in a transitions key; normalisation removes it from queries
SEP = "\x1f"

#: one past every character: `prefix + _MAX_CHAR` sorts after every extension of prefix
_MAX_CHAR = "\U0010ffff"

#: bytes of each label kept in the sorted search-key array (UTF-8, code-point order = byte order)
SORTKEY_BYTES = 24


def transition_key(prev: str, q: str) -> str:
    """The transitions table's key of q_prev -> q_next."""
    return f"{prev}{SEP}{q}"


@dataclass(frozen=True)
class LabelTable:
    """Build-time labels: sorted texts and counts (parallel)."""

    texts: list[str]
    counts: np.ndarray  # int64, by label id

    @classmethod
    def from_queries(
        cls, queries: Iterable[str], min_count: int = 1, extra: Mapping[str, int] | None = None
    ) -> LabelTable:
        """Labels from query occurrences; `extra` counts (e.g. folded fresh counts) are added
        before `min_count` applies, and a query only they hold becomes a label too."""
        c = Counter(queries)
        if extra:
            c.update(extra)
        texts = sorted(q for q, n in c.items() if n >= min_count and q)
        return cls(texts, np.fromiter((c[t] for t in texts), dtype=np.int64, count=len(texts)))

    def save(
        self, w: IndexWriter, *, heavy_threshold: int, heavy_k: int, name: str = LABELS
    ) -> None:
        """Store the trie, id maps, counts and precomputed top-k of heavy prefixes as
        `{name}*` files; `LabelIndex.load(files, name)` reads them back.

        `name` namespaces the files, so the same structure also serves the other sorted
        string tables (query endings, previous->next transitions).
        """
        trie = marisa_trie.Trie(self.texts)
        key_of_label = np.fromiter(
            (trie.key_id(t) for t in self.texts), dtype=np.int32, count=len(self.texts)
        )
        label_of_key = np.empty_like(key_of_label)
        label_of_key[key_of_label] = np.arange(len(self.texts), dtype=np.int32)
        w.trie(name, trie)
        # the first bytes of every label, sorted: np.searchsorted finds prefix ranges at C speed
        # from an mmap'd array; only prefixes longer than this need a refining search
        keys = [t.encode()[:SORTKEY_BYTES] for t in self.texts]
        w.array(f"{name}_sortkeys", np.array(keys, dtype=f"S{SORTKEY_BYTES}"))
        w.array(f"{name}_key_of_label", key_of_label)
        w.array(f"{name}_label_of_key", label_of_key)
        w.array(f"{name}_counts", self.counts)
        cum = np.concatenate([[0], np.cumsum(self.counts)]).astype(np.int64)
        w.array(f"{name}_cumcounts", cum)
        rank = popularity_rank(self.counts)
        w.array(f"{name}_pop_rank", rank)
        heavy = heavy_prefixes(self.texts, heavy_threshold)
        top = np.full((max(len(heavy), 1), heavy_k), -1, dtype=np.int32)
        for row, (_, lo, hi) in enumerate(heavy):
            ids = np.arange(lo, hi)
            r = rank[lo:hi]
            kk = min(heavy_k, hi - lo)
            part = np.argpartition(r, kk - 1)[:kk]
            top[row, :kk] = ids[part[np.argsort(r[part])]]
        heavy_trie = marisa_trie.Trie([p for p, _, _ in heavy])
        heavy_row = np.zeros(max(len(heavy), 1), dtype=np.int32)
        for row, (p, _, _) in enumerate(heavy):
            heavy_row[heavy_trie.key_id(p)] = row
        w.trie(f"{name}_heavy", heavy_trie)
        w.array(f"{name}_heavy_row", heavy_row)
        w.array(f"{name}_heavy_topk", top)


def popularity_rank(counts: np.ndarray) -> np.ndarray:
    """rank[i] = position of label i when sorted by (-count, id); 0 = most popular."""
    order = np.lexsort((np.arange(len(counts)), -counts))
    rank = np.empty(len(counts), dtype=np.int32)
    rank[order] = np.arange(len(counts), dtype=np.int32)
    return rank


def heavy_prefixes(texts: list[str], threshold: int) -> list[tuple[str, int, int]]:
    """Every prefix whose range holds more than `threshold` labels, with that range.

    Recurses only into heavy ranges, so the work is O(labels x depth of heavy nodes).
    """
    out: list[tuple[str, int, int]] = []

    def visit(lo: int, hi: int, depth: int) -> None:
        # children of the node at `depth` characters: group by the next character
        i = lo
        while i < hi:
            if len(texts[i]) <= depth:
                i += 1
                continue
            p = texts[i][: depth + 1]
            j = _bisect_right_prefix(texts, p, i, hi)
            if j - i > threshold:
                out.append((p, i, j))
                visit(i, j, depth + 1)
            i = j

    if len(texts) > threshold:
        out.append(("", 0, len(texts)))
        visit(0, len(texts), 0)
    return out


def _bisect_right_prefix(texts: list[str], p: str, lo: int, hi: int) -> int:
    import bisect

    return bisect.bisect_left(texts, p + _MAX_CHAR, lo, hi)


#: prefixes whose range and top labels a table remembers (the memo is emptied when full)
MEMO_SIZE = 1 << 12
#: top labels remembered per prefix at least (the most any candidate source asks for)
TOP_MEMO_K = 32

_PARTS = (
    "sortkeys",
    "key_of_label",
    "label_of_key",
    "counts",
    "cumcounts",
    "pop_rank",
    "heavy_row",
    "heavy_topk",
)


class LabelIndex:
    """Runtime label access: text by id, id by text, prefix range, popularity top-k."""

    def __init__(
        self,
        name: str,
        trie: marisa_trie.Trie,
        arrays: Mapping[str, np.ndarray],
        heavy: marisa_trie.Trie,
        where: object = "labels",
    ) -> None:
        self.name = name
        self.trie = trie
        self.sortkeys = arrays["sortkeys"]
        self.key_of_label = arrays["key_of_label"]
        self.label_of_key = arrays["label_of_key"]
        self.counts = arrays["counts"]
        self.cumcounts = arrays["cumcounts"]
        self.pop_rank = arrays["pop_rank"]
        self.heavy = heavy
        self.heavy_row = arrays["heavy_row"]
        self.heavy_topk = arrays["heavy_topk"]
        self.n = int(self.counts.shape[0])
        if not (len(self.trie) == self.n == self.key_of_label.shape[0] == self.pop_rank.shape[0]):
            raise IndexFormatError(
                f"{where}: {name} arrays disagree (trie {len(self.trie)}, counts {self.n})"
            )
        self.heavy_k = int(self.heavy_topk.shape[1])
        self._restore = self.trie.restore_key
        # per-prefix answers: one keystroke asks for the same prefix's range and top labels
        # from several candidate sources, and every visitor asks for the short prefixes
        self.range = lru_cache(maxsize=MEMO_SIZE)(self._range)  # type: ignore[method-assign]
        self._tops: Memo[str, tuple[np.ndarray, bool]] = Memo(MEMO_SIZE)
        self._texts: Memo[int, str] = Memo(MEMO_SIZE)  # the popular labels' texts, restored once

    @classmethod
    def load(cls, files: IndexFiles, name: str = LABELS) -> LabelIndex:
        """The table `LabelTable.save` wrote under `name`, mmap'd."""
        # np.asarray drops the np.memmap subclass (whose __getitem__ is slow on the hot path)
        # but keeps the same mmap'd buffer, so workers still share the pages
        arrays = {part: np.asarray(files.array(f"{name}_{part}")) for part in _PARTS}
        return cls(name, files.trie(name), arrays, files.trie(f"{name}_heavy"), files.path)

    def __len__(self) -> int:
        return self.n

    def memo_stats(self) -> dict[str, MemoStats]:
        """This table's memos by kind: prefix ranges, top labels, label texts."""
        return {
            "ranges": lru_stats(self.range),
            "tops": self._tops.stats(),
            "texts": self._texts.stats(),
        }

    def heavy_prefixes(self) -> list[str]:
        """The prefixes with more labels than the build's `heavy_threshold` (top-k stored):
        the shortest, most expensive prefixes to rank."""
        return sorted(self.heavy.keys())

    def text(self, label: int) -> str:
        """The text of label id `label`."""
        return self.texts((label,))[0]

    def texts(self, labels: Iterable[int]) -> list[str]:
        """The texts of label ids, remembered: a keystroke's sources ask for a few dozen
        labels at a time, most of them popular, so one counted lookup serves a batch."""
        memo = self._texts
        get, restore, kol = memo.data.get, self._restore, self.key_of_label
        out = []
        for label in labels:
            text = get(label)
            if text is None:
                text = memo.store(label, restore(int(kol[label])))
            out.append(text)
        memo.lookups += len(out)
        return out

    def id_of(self, text: str) -> int:
        """Label id of `text`, or -1 when it is not a label."""
        kid = self.trie.get(text)
        return -1 if kid is None else int(self.label_of_key[kid])

    def _lower_bound(self, s: str, lo: int, hi: int) -> int:
        restore, kol = self._restore, self.key_of_label
        while lo < hi:
            mid = (lo + hi) >> 1
            if restore(int(kol[mid])) < s:
                lo = mid + 1
            else:
                hi = mid
        return lo

    def range(self, prefix: str) -> tuple[int, int]:
        """[lo, hi): the ids of all labels that start with `prefix` (empty when none;
        remembered per instance, see `__init__`)."""
        return self._range(prefix)

    def _range(self, prefix: str) -> tuple[int, int]:
        if not prefix:
            return 0, self.n
        b = prefix.encode()
        key = b[:SORTKEY_BYTES]
        keys = self.sortkeys
        lo = int(keys.searchsorted(key, "left"))
        if len(key) < SORTKEY_BYTES:
            hi = int(keys.searchsorted(key + b"\xff", "left"))  # 0xff never occurs in UTF-8
        else:
            hi = int(keys.searchsorted(key, "right"))
        if len(b) > SORTKEY_BYTES and hi > lo:
            # keys tie on their first bytes: finish with exact comparisons inside the range
            lo = self._lower_bound(prefix, lo, hi)
            hi = self._lower_bound(prefix + _MAX_CHAR, lo, hi)
        return lo, hi

    def top_popular(self, prefix: str, k: int) -> np.ndarray:
        """Ids of the k most popular labels extending `prefix`, best first (read-only).

        Popularity ranks are a strict order, so the best k are the first k of any longer
        answer: one remembered answer per prefix serves every smaller k.
        """
        if k <= 0:
            return np.empty(0, dtype=np.int64)
        memo = self._tops
        memo.lookups += 1
        got = memo.data.get(prefix)
        if got is not None and (len(got[0]) >= k or got[1]):
            return got[0][:k]
        want = max(k, TOP_MEMO_K)
        ids = self._top_popular(prefix, want)
        ids.setflags(write=False)
        memo.store(prefix, (ids, len(ids) < want))  # fewer than asked: the whole range
        return ids[:k]

    def _top_popular(self, prefix: str, k: int) -> np.ndarray:
        if k <= self.heavy_k:
            kid = self.heavy.get(prefix)
            if kid is not None:
                row = self.heavy_topk[self.heavy_row[kid]]
                return row[:k][row[:k] >= 0]
        lo, hi = self.range(prefix)
        return self.top_in_range(lo, hi, k)

    def total(self, lo: int, hi: int) -> int:
        """Sum of counts of labels lo..hi-1 in O(1) (prefix sums are stored)."""
        return int(self.cumcounts[hi] - self.cumcounts[lo])

    def top_in_range(self, lo: int, hi: int, k: int) -> np.ndarray:
        if hi <= lo:
            return np.empty(0, dtype=np.int64)
        r = self.pop_rank[lo:hi]
        if hi - lo > k:
            part = np.argpartition(r, k - 1)[:k]
        else:
            part = np.arange(hi - lo)
        return lo + part[np.argsort(r[part], kind="stable")]
