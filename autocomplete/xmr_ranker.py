"""Session-aware XR-Linear ranker at serving time: featurise, search the tree, blend, top-k.

Reads as PECOS does: the tree (structure), one `LevelWeights` per level (a linear ranker of
each node against its siblings), `XMRModel` (beam search and exact path scoring over both),
and `XMRRanker` (the final score: path score blended with popularity and the previous
query's known successors, MPC to fill). Nothing here does I/O except `load_xmr_ranker`.

Per keystroke: the trie levels down to the typed prefix are fixed (every label below them
extends the prefix). When at most `exact_threshold` labels extend the prefix, all of them
are scored exactly (no valid label is lost to the beam); otherwise a beam of width `beam`
descends the k-means levels, skipping nodes that hold no label extending the prefix.
A label's path score is the sum over its levels below the fixed ones of
combine(w_node . x); an only child scores 0 (probability 1).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from indexer.artifact import IndexFiles
from indexer.errors import IndexFormatError
from indexer.labels import LabelIndex
from indexer.params import BuildParams
from indexer.xmr.features import Featurizer
from indexer.xmr.params import COMBINE_OF_LOSS, FEATURES, OVERLAP_WINDOW, RankParams, bucket_index
from indexer.xmr.tree import HybridTree

from .mpc import MPCRanker
from .ranking import Completion

MODEL_VERSION = 1
_EMPTY_I = np.empty(0, dtype=np.int64)
_EMPTY_F = np.empty(0, dtype=np.float64)


def _spans(starts: np.ndarray, lens: np.ndarray) -> np.ndarray:
    """Concatenated aranges [starts[i], starts[i] + lens[i]) without a Python loop."""
    ends = np.cumsum(lens)
    return np.arange(int(ends[-1]) if len(ends) else 0, dtype=np.int64) + np.repeat(starts - ends + lens, lens)


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

    def __init__(self, ip: np.ndarray, ix: np.ndarray, dt: np.ndarray, bias: np.ndarray,
                 t: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None) -> None:
        self.ip, self.ix, self.dt = ip, ix, dt
        self.bias = bias.astype(np.float64)
        self.n = int(ip.shape[0]) - 1
        self.avg = float(ip[-1]) / max(self.n, 1)
        self.tip, self.tix, self.tdt = t if t is not None else (None, None, None)

    def gather(self, nodes: np.ndarray, xd: np.ndarray) -> np.ndarray:
        ip = self.ip
        a = ip[nodes]
        lens = ip[nodes + 1] - a
        out = self.bias[nodes]
        if len(nodes):
            flat = _spans(a, lens)
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
        flat = _spans(a, lens)
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

    def __init__(self, feat: Featurizer, tree: HybridTree, levels: list[LevelWeights],
                 vkeys: list[np.ndarray], combine: str, null: bool) -> None:
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
        self.par = [np.zeros(1, dtype=np.int64)] + [tree.parents(level).astype(np.int64)
                                                     for level in range(1, self.height + 1)]
        self.only = [np.zeros(1, dtype=bool)] + [tree.only_child(level) for level in range(1, self.height + 1)]
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
        q.xd[q.cols] = 0.0

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
            sib = _spans(c[par], c[par + 1] - c[par])
            sib = sib[self._valid(level, sib, lo, hi) | np.isin(sib, own)]
            t = self._terms(level, sib, self._raw(level, sib, q))
            total += t[np.searchsorted(sib, own)]
        return total

    def beam_search(self, start_node: int, start: int, lo: int, hi: int, masked: bool, beam: int,
                    q: Query) -> tuple[np.ndarray, np.ndarray]:
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
            kids = _spans(a, lens)
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


class XMRRanker:
    """The session-aware ranker: `complete`, plus `candidates` / `score_labels` /
    `features` for a combining scorer. Scores are the final blended scores (higher is
    better): a candidate's `FEATURES` row dotted with the weights of the keystroke's
    condition and prefix-length bucket (`RankParams.weights`)."""

    def __init__(self, model: XMRModel, labels: LabelIndex, mpc: MPCRanker, trans: Any,
                 label_words: Any, params: RankParams) -> None:
        self.model = model
        self.labels = labels
        self.mpc = mpc
        self.params = params
        self._t_indptr = np.asarray(trans.indptr)
        self._t_indices = np.asarray(trans.indices)
        self._t_data = np.asarray(trans.data)
        self._words = LevelWeights(np.asarray(label_words.indptr), np.asarray(label_words.indices),
                                   np.asarray(label_words.data), np.zeros(label_words.shape[0]))
        self._w = np.asarray(params.weights, dtype=np.float64)
        self._logc = np.log(np.maximum(np.asarray(labels.counts, dtype=np.float64), 1.0))
        self._local = threading.local()

    # -- one keystroke ------------------------------------------------------------------
    def _successors(self, query: str) -> tuple[np.ndarray, np.ndarray]:
        """Labels that followed `query` in training (sorted ids) and how often."""
        pid = self.labels.id_of(query) if query else -1
        if pid < 0:
            return _EMPTY_I, _EMPTY_F
        a, b = int(self._t_indptr[pid]), int(self._t_indptr[pid + 1])
        return self._t_indices[a:b].astype(np.int64), self._t_data[a:b].astype(np.float64)

    @staticmethod
    def _lookup(keys: np.ndarray, vals: np.ndarray, ids: np.ndarray) -> np.ndarray:
        """vals[keys == id] for each id (sorted keys), 0 where absent."""
        out = np.zeros(len(ids))
        if len(keys) and len(ids):
            j = np.minimum(np.searchsorted(keys, ids), len(keys) - 1)
            hit = keys[j] == ids
            out[hit] = vals[j[hit]]
        return out

    def _overlaps(self, ids: np.ndarray, prev_queries: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Cosines of each label's word TF-IDF with the previous query's and the recent context's."""
        feat = self.model.feat
        if not prev_queries or not len(ids):
            return np.zeros(len(ids)), np.zeros(len(ids))
        scratch = getattr(self._local, "w", None)
        if scratch is None:
            scratch = self._local.w = np.zeros((2, feat.n_words))
        pc, pv = feat.word_vector(prev_queries[-1:])
        cc, cv = feat.word_vector(prev_queries[-OVERLAP_WINDOW:])
        scratch[0, pc] = pv
        scratch[1, cc] = cv
        lw = self._words
        a = lw.ip[ids]
        lens = lw.ip[ids + 1] - a
        flat = _spans(a, lens)
        seg = np.repeat(np.arange(len(ids)), lens)
        col, dat = lw.ix[flat], lw.dt[flat]
        ov_prev = np.bincount(seg, dat * scratch[0, col], minlength=len(ids))
        ov_ctx = np.bincount(seg, dat * scratch[1, col], minlength=len(ids))
        scratch[0, pc] = 0.0
        scratch[1, cc] = 0.0
        return ov_prev, ov_ctx

    def _feature_matrix(self, ids: np.ndarray, path: np.ndarray, prev_queries: Sequence[str],
                        succ: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        f = np.zeros((len(ids), len(FEATURES)))
        f[:, 0] = path
        f[:, 1] = self._logc[ids]
        if not prev_queries:
            return f
        f[:, 2] = np.log1p(self._lookup(succ[0], succ[1], ids))
        f[:, 3], f[:, 4] = self._overlaps(ids, prev_queries)
        for older in prev_queries[-OVERLAP_WINDOW:-1]:
            s_ids, s_cnt = self._successors(older)
            if len(s_ids):
                np.maximum(f[:, 5], np.log1p(self._lookup(s_ids, s_cnt, ids)), out=f[:, 5])
        ctx = [i for i in (self.labels.id_of(q) for q in prev_queries[-10:]) if i >= 0]
        if ctx:
            f[:, 6] = np.isin(ids, ctx, kind="table")
        return f

    def _weights(self, prev_queries: Sequence[str], prefix: str, succ_ids: np.ndarray,
                 lo: int, hi: int) -> np.ndarray:
        if not prev_queries:
            cond = 0
        else:
            cond = 2 if np.any((succ_ids >= lo) & (succ_ids < hi)) else 1
        return self._w[cond, bucket_index(len(prefix))]

    def _gather(self, prev_queries: Sequence[str], prefix: str, lo: int, hi: int,
                ids: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(label ids, feature rows, blend weights): `ids` when given, else the candidates of the keystroke:
        every label extending the prefix when there are at most `exact_threshold`, else the
        beam's leaves plus the most popular labels and the previous query's successors."""
        m, p = self.model, self.params
        start = m.start_level(prefix, lo, hi)
        succ = self._successors(prev_queries[-1] if prev_queries else "")
        q = m.query(prev_queries, prefix)
        try:
            if ids is not None:
                path = m.path_scores(ids, start, q, lo, hi)
            elif hi - lo <= p.exact_threshold:
                ids = np.arange(lo, hi, dtype=np.int64)
                path = m.range_scores(lo, hi, start, q)
            else:
                node = int(m.anc_lab[start][lo])
                b_ids, b_path = m.beam_search(node, start, lo, hi, len(prefix) > m.depth, p.beam, q)
                extra = succ[0][(succ[0] >= lo) & (succ[0] < hi)]
                if p.pool:
                    extra = np.union1d(extra, self.labels.top_popular(prefix, p.pool))
                if len(extra):
                    extra = extra[~np.isin(extra, b_ids, kind="table")]
                ids = np.concatenate([b_ids, extra])
                path = np.concatenate([b_path, m.path_scores(extra, start, q, lo, hi)])
        finally:
            m.release(q)
        return ids, self._feature_matrix(ids, path, prev_queries, succ), self._weights(
            prev_queries, prefix, succ[0], lo, hi)

    # -- public API ---------------------------------------------------------------------
    def candidates(self, prev_queries: Sequence[str], prefix: str, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Up to n label ids extending `prefix`, best first, and their scores.

        Never fewer than min(n, labels extending the prefix): MPC fills what the beam missed.
        """
        lo, hi = self.labels.range(prefix)
        if n <= 0 or hi <= lo:
            return _EMPTY_I, _EMPTY_F
        ids, f, w = self._gather(prev_queries, prefix, lo, hi)
        s = f @ w
        if len(ids) > n:
            top = np.argpartition(-s, n - 1)[:n]
            ids, s = ids[top], s[top]
        order = np.lexsort((ids, -s))
        ids, s = ids[order], s[order]
        if len(ids) < min(n, hi - lo):
            ids, s = self._fill(ids, s, prefix, n)
        return ids, s

    def _fill(self, ids: np.ndarray, s: np.ndarray, prefix: str, n: int) -> tuple[np.ndarray, np.ndarray]:
        have = set(ids.tolist())
        more = [i for i in self.labels.top_popular(prefix, n + len(ids)).tolist() if i not in have]
        more = more[: n - len(ids)]
        floor = (float(s.min()) if len(s) else 0.0) - 1.0
        return (np.concatenate([ids, np.array(more, dtype=np.int64)]),
                np.concatenate([s, floor - np.arange(len(more), dtype=np.float64)]))

    def features(self, prev_queries: Sequence[str], prefix: str, label_ids: np.ndarray | None = None
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(label ids, rows of `FEATURES`, the blend weights this keystroke uses) for the given
        labels, or for every candidate the keystroke considers; for tuning the blend and for
        combining scorers. The final score is rows @ weights."""
        lo, hi = self.labels.range(prefix)
        if label_ids is None and hi <= lo:
            return _EMPTY_I, np.empty((0, len(FEATURES))), self._w[0, 0]
        ids = None if label_ids is None else np.asarray(label_ids, dtype=np.int64)
        return self._gather(prev_queries, prefix, lo, hi, ids)

    def score_labels(self, prev_queries: Sequence[str], prefix: str, label_ids: np.ndarray) -> np.ndarray:
        """Blended scores of any label ids for this keystroke (same scale as `candidates`).

        Labels that do not extend `prefix` are scored as if their trie levels matched it.
        """
        ids = np.asarray(label_ids, dtype=np.int64)
        if not len(ids):
            return _EMPTY_F
        _, f, w = self.features(prev_queries, prefix, ids)
        return f @ w

    def complete(self, prev_queries: Sequence[str], prefix: str, k: int = 10) -> list[Completion]:
        ids, s = self.candidates(prev_queries, prefix, k)
        text = self.labels.text
        return [Completion(text(i), sc, "index") for i, sc in zip(ids.tolist(), s.tolist(), strict=True)]


def _check_matrix(files: IndexFiles, w: Any, shape: tuple[int, int], what: str) -> None:
    if w.shape != shape:
        raise IndexFormatError(f"{files.path}: xmr {what} have shape {w.shape}, expected {shape}")
    if w.nnz and (int(np.max(w.indices)) >= shape[1] or int(np.min(w.indices)) < 0):
        raise IndexFormatError(f"{files.path}: xmr {what} index past {shape[1]} columns")


def load_model(files: IndexFiles) -> XMRModel:
    """The pure model of an xmr index directory; `IndexFormatError` when anything disagrees."""
    meta = files.json("xmr_model")
    if not isinstance(meta, dict) or meta.get("version") != MODEL_VERSION:
        raise IndexFormatError(f"{files.path}: xmr model version {meta.get('version') if isinstance(meta, dict) else meta!r}, "
                               f"this build reads {MODEL_VERSION}")
    xp = BuildParams.from_json(files.manifest.get("build_params", {})).xmr
    feat = Featurizer.load(files, xp)
    height, n = int(meta["height"]), int(meta["n_labels"])
    if feat.dim != meta.get("dim"):
        raise IndexFormatError(f"{files.path}: featuriser has {feat.dim} columns, model expects {meta.get('dim')}")
    tree = HybridTree.load(files, int(meta["depth"]), height, n)
    levels = []
    d = feat.dim - 1
    for level in range(1, height + 1):
        size = tree.level_size(level)
        w = files.matrix(f"xmr_w_{level}")
        bias = np.asarray(files.array(f"xmr_b_{level}"))
        _check_matrix(files, w, (size, d), f"level {level} weights")
        if bias.shape != (size,):
            raise IndexFormatError(f"{files.path}: xmr level {level} bias has shape {bias.shape}")
        t = None
        if level < height:
            wt = files.matrix(f"xmr_wt_{level}")
            _check_matrix(files, wt, (d, size), f"level {level} feature-major weights")
            t = (np.asarray(wt.indptr), np.asarray(wt.indices), np.asarray(wt.data))
        levels.append(LevelWeights(np.asarray(w.indptr), np.asarray(w.indices), np.asarray(w.data), bias, t))
    vkeys = [files.array(f"xmr_vkey_{level}") for level in range(height)]
    if any(k.shape != (n,) for k in vkeys):
        raise IndexFormatError(f"{files.path}: xmr validity keys disagree with {n} labels")
    combine = COMBINE_OF_LOSS.get(str(meta.get("loss", "sqhinge")), "l3hinge")
    return XMRModel(feat, tree, levels, vkeys, combine, bool(meta.get("null_class", False)))


def load_xmr_ranker(files: IndexFiles, labels: LabelIndex, mpc: MPCRanker,
                    params: RankParams | None = None) -> XMRRanker:
    """The ranker of an xmr index; `params` overrides the rank settings stored with it."""
    model = load_model(files)
    if model.n != len(labels):
        raise IndexFormatError(f"{files.path}: xmr model has {model.n} labels, the index {len(labels)}")
    trans = files.matrix("xmr_trans")
    if trans.shape != (model.n, model.n):
        raise IndexFormatError(f"{files.path}: xmr transitions have shape {trans.shape}")
    words = files.matrix("xmr_label_words")
    _check_matrix(files, words, (model.n, model.feat.n_words), "label words")
    rank = params or RankParams.from_json(files.json("xmr_model").get("rank"))
    if rank.combine is not None:
        model.how = rank.combine
    return XMRRanker(model, labels, mpc, trans, words, rank)
