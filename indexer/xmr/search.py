"""Tree search and path scoring over the hybrid trie-tree: pure arrays in, arrays out.

`LevelWeights` is one level's linear rankers (node-major rows for scattered or contiguous
nodes, a feature-major copy to score a whole level at once); `Query` is one keystroke's
input; `XMRModel` combines the featuriser, the tree and the levels into exact path scores
of a prefix's label range (`range_scores`), of any labels (`path_scores`), and a beam
search (`beam_search`). The server's ranker (`autocomplete.xmr_ranker`) blends these with
popularity and session features; `tests/xmr` check them against a brute-force reference.

With combine "softmax" a label's path score is the sum, over the levels below the deepest
node holding every label that extends the prefix (`start_level`), of its node's
log-softmax among the valid siblings (those holding a label extending the prefix): log
P(label | that node, x) under the hierarchical softmax the rankers were trained as. An
only child scores 0 (probability 1).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np

from .features import Featurizer
from .tree import HybridTree

_EMPTY_F = np.empty(0, dtype=np.float64)


def spans(starts: np.ndarray, lens: np.ndarray) -> np.ndarray:
    """Concatenated aranges [starts[i], starts[i] + lens[i]) without a Python loop."""
    ends = np.cumsum(lens)
    return np.arange(int(ends[-1]) if len(ends) else 0, dtype=np.int64) + np.repeat(
        starts - ends + lens, lens
    )


def combine(s: np.ndarray, how: str) -> np.ndarray:
    if how == "sigmoid":
        return -np.logaddexp(0.0, -s)
    return -(np.maximum(0.0, 1.0 - s) ** 3)


class LevelWeights:
    """One level's linear rankers: bias + w[node] . x, for any set of nodes.

    Node-major CSR rows (`gather` for scattered nodes, `span` for a contiguous run) and,
    for the levels above the labels, a feature-major copy (`full`: every node of the level
    in one pass over the input's few features). The bias is a dense vector, so the
    always-present bias feature never costs a gather.
    """

    __slots__ = ("ip", "ix", "dt", "bias", "tip", "tix", "tdt", "n", "avg")

    def __init__(
        self,
        ip: np.ndarray,
        ix: np.ndarray,
        dt: np.ndarray,
        bias: np.ndarray,
        t: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
    ) -> None:
        self.ip, self.ix, self.dt = ip, ix, dt
        self.bias = bias.astype(np.float64)
        self.n = int(ip.shape[0]) - 1
        self.avg = float(ip[-1]) / max(self.n, 1)
        self.tip: np.ndarray | None = None
        self.tix: np.ndarray | None = None
        self.tdt: np.ndarray | None = None
        if t is not None:
            self.tip, self.tix, self.tdt = t

    def gather(self, nodes: np.ndarray, xd: np.ndarray) -> np.ndarray:
        ip = self.ip
        a = ip[nodes]
        lens = ip[nodes + 1] - a
        out = self.bias[nodes]
        if len(nodes):
            flat = spans(a, lens)
            if len(flat):
                v = self.dt[flat] * xd[self.ix[flat]]
                out += np.bincount(np.repeat(np.arange(len(nodes)), lens), v, minlength=len(nodes))
        return out

    def span(self, lo: int, hi: int, xd: np.ndarray) -> np.ndarray:
        ip = self.ip
        a, b = int(ip[lo]), int(ip[hi])
        cs = np.zeros(b - a + 1)
        np.cumsum(self.dt[a:b] * xd[self.ix[a:b]], out=cs[1:])
        off = ip[lo : hi + 1] - a
        return self.bias[lo:hi] + (cs[off[1:]] - cs[off[:-1]])

    def full_cost(self, cols: np.ndarray) -> float:
        if self.tip is None:
            return float("inf")
        return float((self.tip[cols + 1] - self.tip[cols]).sum()) + 0.25 * self.n

    def full(self, cols: np.ndarray, vals: np.ndarray) -> np.ndarray:
        assert self.tip is not None and self.tix is not None and self.tdt is not None
        a = self.tip[cols]
        lens = self.tip[cols + 1] - a
        flat = spans(a, lens)
        v = self.tdt[flat] * np.repeat(vals, lens)
        return self.bias + np.bincount(self.tix[flat], v, minlength=self.n)


class Query:
    """One keystroke's input: sparse x (bias excluded), its dense copy, per-level caches."""

    __slots__ = ("cols", "vals", "xd", "full")

    def __init__(self, cols: np.ndarray, vals: np.ndarray, xd: np.ndarray) -> None:
        self.cols, self.vals, self.xd = cols, vals, xd
        self.full: dict[int, np.ndarray] = {}


class XMRModel:
    """Featuriser + hybrid tree + level rankers: path scores by beam search or exactly.

    levels[l - 1] scores level l; the label level (l = height) is indexed by label id, the
    tree's own arrays at that level by tree position. With combine "softmax" a level term is
    the node's log-softmax among its valid siblings (those holding a label that extends the
    prefix), so every caller hands `_terms` complete sibling groups, parent by parent.
    """

    def __init__(
        self,
        feat: Featurizer,
        tree: HybridTree,
        levels: list[LevelWeights],
        vkeys: list[np.ndarray],
        combine: str,
        null: bool,
    ) -> None:
        self.feat = feat
        self.depth = tree.depth
        self.height = tree.height
        self.n = tree.n_labels
        self.levels = levels
        self.how = combine
        self.null = null
        self.cptr = [np.asarray(c, dtype=np.int64) for c in tree.cptr]
        self.sizes = [1] + [tree.level_size(level) for level in range(1, self.height + 1)]
        self.perm = np.asarray(tree.perm, dtype=np.int64)
        self.pos = np.empty(self.n, dtype=np.int64)
        self.pos[self.perm] = np.arange(self.n)
        anc = tree.ancestors()
        # ancestors by label id: a prefix's labels are a contiguous slice of each
        self.anc_lab = [a.astype(np.int64)[self.pos] for a in anc]
        self.par = [np.zeros(1, dtype=np.int64)] + [
            tree.parents(level).astype(np.int64) for level in range(1, self.height + 1)
        ]
        self.only = [np.zeros(1, dtype=bool)] + [
            tree.only_child(level) for level in range(1, self.height + 1)
        ]
        self.vkeys = [np.asarray(k) for k in vkeys]
        self._local = threading.local()

    # -- input --------------------------------------------------------------------------
    def query(self, prev_queries: Sequence[str], prefix: str) -> Query:
        cols, vals = self.feat.transform(prev_queries, prefix)
        cols, vals = cols[:-1], vals[:-1]  # the bias lives in LevelWeights.bias
        xd = getattr(self._local, "xd", None)
        if xd is None:
            xd = self._local.xd = np.zeros(self.feat.dim, dtype=np.float32)
        xd[cols] = vals
        return Query(cols, vals, xd)

    @staticmethod
    def release(q: Query) -> None:
        """Clear the thread's dense scratch after scoring (it is shared by every query)."""
        q.xd[q.cols] = 0.0

    @staticmethod
    def acquire(q: Query) -> None:
        """Write a released query back into the dense scratch to score with it again."""
        q.xd[q.cols] = q.vals

    def fixed_level(self, prefix: str) -> int:
        """The deepest trie level the typed prefix alone decides."""
        return min(len(prefix), self.depth)

    def start_level(self, prefix: str, lo: int, hi: int) -> int:
        """The deepest level whose one node holds every label extending the prefix.

        Path scores are log P(label | that node, x): levels above it would add the same
        term to every candidate, so they are skipped (a prefix matching one label costs
        nothing). Below the trie levels this is found by comparing the range's ancestors.
        """
        start = self.fixed_level(prefix)
        if hi <= lo:
            return start
        for level in range(start + 1, self.height + 1):
            a = self.anc_lab[level][lo:hi] if level < self.height else None
            if a is None:
                return level if hi - lo == 1 else start
            if a.min() != a.max():
                return start
            start = level
        return start

    # -- scoring --------------------------------------------------------------------------
    def _upper(self, level: int, nodes: np.ndarray, q: Query) -> np.ndarray:
        """Raw scores of nodes at a level above the labels."""
        lw = self.levels[level - 1]
        full = q.full.get(level)
        if full is None:
            if lw.full_cost(q.cols) > lw.avg * len(nodes):
                return lw.gather(nodes, q.xd)
            full = q.full[level] = lw.full(q.cols, q.vals)
        return full[nodes]

    def _raw(self, level: int, nodes: np.ndarray, q: Query) -> np.ndarray:
        if level == self.height:
            return self.levels[level - 1].gather(self.perm[nodes], q.xd)
        return self._upper(level, nodes, q)

    def _valid(self, level: int, nodes: np.ndarray, lo: int, hi: int) -> np.ndarray:
        """Which nodes (tree positions at the label level) hold a label in [lo, hi)."""
        if level == self.height:
            lab = self.perm[nodes]
            return (lab >= lo) & (lab < hi)
        key, k0 = self.vkeys[level], nodes * (self.n + 1)
        return np.searchsorted(key, k0 + hi) > np.searchsorted(key, k0 + lo)

    def _terms(self, level: int, nodes: np.ndarray, raw: np.ndarray) -> np.ndarray:
        """Level terms of `nodes`, which come as complete sibling groups, parent by parent."""
        if self.how == "softmax" and len(nodes):
            par = self.par[level][nodes]
            starts = np.flatnonzero(np.concatenate(([True], par[1:] != par[:-1])))
            cnt = np.diff(np.append(starts, len(raw)))
            mx = np.maximum.reduceat(raw, starts)
            if self.null:
                mx = np.maximum(mx, 0.0)
            mxr = np.repeat(mx, cnt)
            tot = np.add.reduceat(np.exp(raw - mxr), starts)
            if self.null:
                tot += np.exp(-mx)
            t = raw - mxr - np.repeat(np.log(tot), cnt)
        else:
            t = combine(raw, self.how)
        t[self.only[level][nodes]] = 0.0
        return t

    def range_scores(self, lo: int, hi: int, start: int, q: Query) -> np.ndarray:
        """Path scores of the label ids lo..hi-1 (all labels extending the prefix), exactly."""
        h = self.height
        total = np.zeros(hi - lo)
        if start >= h:
            return total
        for level in range(start + 1, h):
            u, inv = _unique_small(self.anc_lab[level][lo:hi], self.sizes[level])
            total += self._terms(level, u, self._upper(level, u, q))[inv]
        raw = self.levels[h - 1].span(lo, hi, q.xd)
        pos = self.pos[lo:hi]
        if self.how == "softmax":
            order = np.argsort(pos)
            total[order] += self._terms(h, pos[order], raw[order])
        else:
            total += self._terms(h, pos, raw)
        return total

    def path_scores(self, ids: np.ndarray, start: int, q: Query, lo: int, hi: int) -> np.ndarray:
        """Path scores of any label ids; [lo, hi) is the prefix's range (for the siblings a
        softmax normalises over; an id outside it counts as valid for its own path)."""
        h = self.height
        total = np.zeros(len(ids))
        if start >= h or not len(ids):
            return total
        for level in range(start + 1, h + 1):
            own = self.pos[ids] if level == h else self.anc_lab[level][ids]
            if self.how != "softmax":
                total += self._terms(level, own, self._raw(level, own, q))
                continue
            par = np.unique(self.anc_lab[level - 1][ids])
            c = self.cptr[level - 1]
            sib = spans(c[par], c[par + 1] - c[par])
            sib = sib[self._valid(level, sib, lo, hi) | np.isin(sib, own)]
            t = self._terms(level, sib, self._raw(level, sib, q))
            total += t[np.searchsorted(sib, own)]
        return total

    def beam_search(
        self, start_node: int, start: int, lo: int, hi: int, masked: bool, beam: int, q: Query
    ) -> tuple[np.ndarray, np.ndarray]:
        """(label ids, path scores) of the leaves reached from `start_node` at level `start`.

        With `masked`, nodes holding no label in [lo, hi) are dropped at every level.
        """
        nodes = np.array([start_node], dtype=np.int64)
        score = np.zeros(1)
        h = self.height
        for level in range(start + 1, h + 1):
            c = self.cptr[level - 1]
            a = c[nodes]
            lens = c[nodes + 1] - a
            kids = spans(a, lens)
            base = np.repeat(score, lens)
            if masked:
                ok = self._valid(level, kids, lo, hi)
                kids, base = kids[ok], base[ok]
            sc = base + self._terms(level, kids, self._raw(level, kids, q))
            if level < h and len(kids) > beam:
                top = np.argpartition(-sc, beam - 1)[:beam]
                top.sort()  # keep sibling groups contiguous for the next level's softmax
                kids, sc = kids[top], sc[top]
            nodes, score = kids, sc
        return self.perm[nodes], score


def _unique_small(a: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """np.unique(a, return_inverse=True) for values in [0, n), by a bitmap (no sort)."""
    mark = np.zeros(n, dtype=bool)
    mark[a] = True
    u = np.flatnonzero(mark)
    lut = np.empty(n, dtype=np.int64)
    lut[u] = np.arange(len(u))
    return u, lut[a]
