"""The XR-Linear model: featuriser, hybrid tree and level rankers; path scores and beam search.

Reads as PECOS does: the tree (structure, `tree.HybridTree`), one `levels.LevelWeights` per
level (a linear ranker of each node against its siblings), and `XMRModel` here, the chain
that turns one keystroke's input (`Query`) into exact path scores of a prefix's label range
(`range_scores`), of any labels (`path_scores`), or a beam search (`beam_search`). Pure
arrays in, arrays out; `XMRModel.save` / `XMRModel.load` move the whole chain through an index
directory, with `RankParams` (how to search it) beside it in `xmr_model.json`.

With combine "softmax" a label's path score is the sum, over the levels below the deepest
node holding every label that extends the prefix (`start_level`), of its node's
log-softmax among the valid siblings (those holding a label extending the prefix): log
P(label | that node, x) under the hierarchical softmax the rankers were trained as. An
only child scores 0 (probability 1).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np
import scipy.sparse as sp

from .artifact import IndexFiles, IndexWriter
from .columns import LabelColumns
from .errors import IndexFormatError
from .featurizer import Featurizer
from .levels import LevelWeights, spans
from .tree import HybridTree

#: files: the model's shapes, how it combines level scores, and its `RankParams`; the
#: per-level "node holds label" search keys (`xmr_vkey_{l}`)
META, VKEY = "xmr_model", "xmr_vkey_{}"
VERSION = 2
COMBINES = ("softmax", "l3hinge", "sigmoid")
_EMPTY_F = np.empty(0, dtype=np.float64)


@dataclass(frozen=True)
class RankParams:
    """How the runtime searches the tree (stored with the model; may be overridden at load).

    beam: beam width of the tree search (>= 1).
    exact_threshold: when at most this many labels extend the prefix, all of them are scored
        exactly instead of beam-searched (0 = always beam search). Scoring a contiguous
        range exactly is cheaper than a beam that reaches most of it: at two characters a
        beam of 20 reached ~1,900 of ~2,500 labels. On DEV (75,051 keystrokes of 1-3
        characters) 1000 and 4000 give the same MRR to four decimals; 4000 cuts the p99.
    pool: when beam-searching, this many most popular labels extending the prefix join the
        beam's labels (and so do the session's own suggestions), so a popular label the
        beam missed still gets its exact path score.
    combine: how a level's raw score s becomes a log-probability along the path: "softmax"
        (log-softmax over the valid siblings, for softmax-trained models), "l3hinge"
        (-max(0, 1-s)**3, PECOS's post-processor for hinge losses) or "sigmoid"; None (the
        default) uses the one the model was trained for.
    """

    beam: int = 20
    exact_threshold: int = 4000
    pool: int = 32
    combine: str | None = None

    def __post_init__(self) -> None:
        if self.beam < 1 or self.exact_threshold < 0 or self.pool < 0:
            raise ValueError("beam must be >= 1, exact_threshold and pool >= 0")
        if self.combine is not None and self.combine not in COMBINES:
            raise ValueError(f"combine must be one of {COMBINES}, got {self.combine!r}")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict[str, Any] | None) -> RankParams:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in (d or {}).items() if k in known})


def combine(s: np.ndarray, how: str) -> np.ndarray:
    """A one-vs-rest level's raw score -> its log-probability-like term along a path."""
    if how == "sigmoid":
        return -np.logaddexp(0.0, -s)
    return -(np.maximum(0.0, 1.0 - s) ** 3)


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
    `null`: each softmax also holds a fixed "not below this node" logit 0.
    """

    def __init__(
        self,
        feat: Featurizer,
        tree: HybridTree,
        levels: list[LevelWeights],
        vkeys: list[np.ndarray],
        combine: str,
        null: bool,
        rank: RankParams | None = None,
    ) -> None:
        self.feat = feat
        self.tree = tree
        self.rank = rank or RankParams()
        self.combine = combine
        self.depth = tree.depth
        self.height = tree.height
        self.n = tree.n_labels
        self.levels = levels
        self.how = self.rank.combine or combine
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
        self.columns = LabelColumns(levels[-1])
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
            # a few nodes (a corrected label's path): gathered, without pricing the full pass
            # (whose cost is at least a quarter of a read per node)
            few = lw.avg * len(nodes)
            if 0.25 * lw.n > few or lw.full_cost(q.cols) > few:
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
            n = len(par)
            first = np.empty(n, dtype=bool)  # where a sibling group starts
            first[0] = True
            np.not_equal(par[1:], par[:-1], out=first[1:])
            starts = np.flatnonzero(first)
            if len(starts) == n:  # groups of one: the reductions and repeats are the identity
                mx = np.maximum(raw, 0.0) if self.null else raw
                tot = np.exp(raw - mx)
                if self.null:
                    tot += np.exp(-mx)
                t = raw - mx - np.log(tot)
            else:
                cnt = np.empty(len(starts), dtype=np.intp)
                cnt[:-1] = starts[1:] - starts[:-1]
                cnt[-1] = n - starts[-1]
                mx = np.maximum.reduceat(raw, starts)
                if self.null:
                    mx = np.maximum(mx, 0.0)
                mxr = mx.repeat(cnt)
                tot = np.add.reduceat(np.exp(raw - mxr), starts)
                if self.null:
                    tot += np.exp(-mx)
                t = raw - mxr - np.log(tot).repeat(cnt)
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
        lw = self.levels[h - 1]
        found = self.columns.cost(lo, hi, q.cols)
        if int(found[1].sum()) < int(lw.ip[hi] - lw.ip[lo]):
            raw = self.columns.span(lo, hi, q.cols, q.vals, found)
        else:
            raw = lw.span(lo, hi, q.xd)
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
            if hi <= lo:
                # no label extends the prefix (the ids are spelling corrections): no sibling
                # is valid, so each group holds only the ids' own nodes
                sib = np.unique(own)
            else:
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

    # -- persistence --------------------------------------------------------------------
    @classmethod
    def from_trained(
        cls,
        feat: Featurizer,
        tree: HybridTree,
        weights: Sequence[sp.csr_matrix],
        combine: str,
        null: bool,
        rank: RankParams | None = None,
    ) -> XMRModel:
        """The serving model of trained level weights (node-major rows, the bias a column)."""
        pos = np.empty(tree.n_labels, dtype=np.int64)
        pos[tree.perm] = np.arange(tree.n_labels)
        levels = [
            LevelWeights.from_trained(
                w, feat.bias_col, pos if level == tree.height else None, level < tree.height
            )
            for level, w in enumerate(weights, start=1)
        ]
        return cls(feat, tree, levels, tree.validity_keys(), combine, null, rank)

    def save(self, w: IndexWriter) -> None:
        self.feat.save(w)
        self.tree.save(w)
        for level, key in enumerate(self.vkeys):
            w.array(VKEY.format(level), key)
        for level, lw in enumerate(self.levels, start=1):
            lw.save(w, level)
        w.json(
            META,
            {
                "version": VERSION,
                "depth": self.depth,
                "height": self.height,
                "dim": self.feat.dim,
                "n_labels": self.n,
                "combine": self.combine,
                "null_class": self.null,
                "rank": self.rank.to_json(),
            },
        )

    @classmethod
    def load(cls, files: IndexFiles, rank: RankParams | None = None) -> XMRModel:
        """The model of an xmr index; `rank` overrides the stored `RankParams`.
        `IndexFormatError` when anything disagrees."""
        meta = files.json(META)
        if not isinstance(meta, dict) or meta.get("version") != VERSION:
            found = meta.get("version") if isinstance(meta, dict) else meta
            raise IndexFormatError(
                f"{files.path}: xmr model version {found!r}, this build reads {VERSION}"
            )
        feat = Featurizer.load(files)
        if feat.dim != meta.get("dim"):
            raise IndexFormatError(
                f"{files.path}: featuriser has {feat.dim} columns, model expects {meta.get('dim')}"
            )
        height, n = int(meta["height"]), int(meta["n_labels"])
        tree = HybridTree.load(files, int(meta["depth"]), height, n)
        levels = [
            LevelWeights.load(files, level, tree.level_size(level), feat.dim - 1, level < height)
            for level in range(1, height + 1)
        ]
        vkeys = [files.array(VKEY.format(level)) for level in range(height)]
        if any(k.shape != (n,) for k in vkeys):
            raise IndexFormatError(f"{files.path}: xmr validity keys disagree with {n} labels")
        how = meta.get("combine")
        if how not in COMBINES:
            raise IndexFormatError(f"{files.path}: xmr combine {how!r} is not one of {COMBINES}")
        try:
            stored = RankParams.from_json(meta.get("rank"))
        except (TypeError, ValueError) as exc:
            raise IndexFormatError(f"{files.path}: xmr rank settings: {exc}") from None
        return cls(feat, tree, levels, vkeys, how, bool(meta.get("null_class")), rank or stored)


def _unique_small(a: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """np.unique(a, return_inverse=True) for values in [0, n), by a bitmap (no sort)."""
    mark = np.zeros(n, dtype=bool)
    mark[a] = True
    u = np.flatnonzero(mark)
    lut = np.empty(n, dtype=np.int64)
    lut[u] = np.arange(len(u))
    return u, lut[a]
