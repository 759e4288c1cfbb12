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
from indexer.xmr.params import RankParams, bucket_index
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
    """One level's linear rankers, node-major CSR: w[node] . x for any set of nodes."""

    __slots__ = ("indptr", "indices", "data", "n")

    def __init__(self, indptr: np.ndarray, indices: np.ndarray, data: np.ndarray) -> None:
        self.indptr, self.indices, self.data = indptr, indices, data
        self.n = int(indptr.shape[0]) - 1

    def scores(self, nodes: np.ndarray, xd: np.ndarray) -> np.ndarray:
        """Raw scores of `nodes` against the dense input `xd`."""
        ip = self.indptr
        a = ip[nodes]
        lens = ip[nodes + 1] - a
        if not len(nodes):
            return _EMPTY_F
        flat = _spans(a, lens)
        v = self.data[flat] * xd[self.indices[flat]]
        return np.bincount(np.repeat(np.arange(len(nodes)), lens), v, minlength=len(nodes))


class XMRModel:
    """Featuriser + hybrid tree + level rankers: path scores by beam search or exactly."""

    def __init__(self, feat: Featurizer, tree: HybridTree, levels: list[LevelWeights],
                 vkeys: list[np.ndarray]) -> None:
        self.feat = feat
        self.depth = tree.depth
        self.height = tree.height
        self.n = tree.n_labels
        self.levels = levels  # levels[l - 1] scores the nodes of level l
        self.cptr = [np.asarray(c) for c in tree.cptr]
        self.perm = np.asarray(tree.perm, dtype=np.int64)
        self.pos = np.empty(self.n, dtype=np.int64)
        self.pos[self.perm] = np.arange(self.n)
        anc = tree.ancestors()
        self.anc = [a.astype(np.int64) for a in anc]
        self.only = [np.zeros(1, dtype=bool)] + [tree.only_child(level) for level in range(1, self.height + 1)]
        self.vkeys = vkeys
        self._local = threading.local()

    # -- input --------------------------------------------------------------------------
    def dense(self, cols: np.ndarray, vals: np.ndarray) -> np.ndarray:
        """A per-thread dense copy of x (reset by `release`), so gathers need no search."""
        xd = getattr(self._local, "xd", None)
        if xd is None:
            xd = self._local.xd = np.zeros(self.feat.dim, dtype=np.float32)
        xd[cols] = vals
        return xd

    @staticmethod
    def release(xd: np.ndarray, cols: np.ndarray) -> None:
        xd[cols] = 0.0

    def fixed_level(self, prefix: str) -> int:
        return min(len(prefix), self.depth)

    # -- scoring --------------------------------------------------------------------------
    def _level_terms(self, level: int, nodes: np.ndarray, xd: np.ndarray, how: str) -> np.ndarray:
        t = combine(self.levels[level - 1].scores(nodes, xd), how)
        t[self.only[level][nodes]] = 0.0
        return t

    def path_scores(self, label_ids: np.ndarray, start: int, xd: np.ndarray, how: str) -> np.ndarray:
        """Sum of level terms below level `start` for each label (the exact score)."""
        pos = self.pos[label_ids]
        total = np.zeros(len(label_ids))
        for level in range(start + 1, self.height):
            nodes, inv = np.unique(self.anc[level][pos], return_inverse=True)
            total += self._level_terms(level, nodes, xd, how)[inv]
        if start < self.height:
            total += self._level_terms(self.height, pos, xd, how)
        return total

    def beam_search(self, start_node: int, start: int, lo: int, hi: int, masked: bool, beam: int,
                    xd: np.ndarray, how: str) -> tuple[np.ndarray, np.ndarray]:
        """(label ids, path scores) of the leaves reached from `start_node` at level `start`.

        With `masked`, nodes holding no label in [lo, hi) are dropped at every level.
        """
        nodes = np.array([start_node], dtype=np.int64)
        score = np.zeros(1)
        n1 = self.n + 1
        for level in range(start + 1, self.height + 1):
            c = self.cptr[level - 1]
            a = c[nodes]
            lens = c[nodes + 1] - a
            kids = _spans(a, lens)
            sc = np.repeat(score, lens) + self._level_terms(level, kids, xd, how)
            if masked:
                if level == self.height:
                    lab = self.perm[kids]
                    ok = (lab >= lo) & (lab < hi)
                else:
                    key, base = self.vkeys[level], kids * n1
                    ok = np.searchsorted(key, base + hi) > np.searchsorted(key, base + lo)
                kids, sc = kids[ok], sc[ok]
            if level < self.height and len(kids) > beam:
                top = np.argpartition(-sc, beam - 1)[:beam]
                kids, sc = kids[top], sc[top]
            nodes, score = kids, sc
        return self.perm[nodes], score


class XMRRanker:
    """The session-aware ranker: `complete`, plus `candidates` / `score_labels` for a
    combining scorer. Scores are the final blended scores (higher is better)."""

    def __init__(self, model: XMRModel, labels: LabelIndex, mpc: MPCRanker, trans: Any,
                 params: RankParams) -> None:
        self.model = model
        self.labels = labels
        self.mpc = mpc
        self.params = params
        self._t_indptr = np.asarray(trans.indptr)
        self._t_indices = np.asarray(trans.indices)
        self._t_data = np.asarray(trans.data)
        self._w = np.array([params.w_model, params.w_pop, params.w_trans], dtype=np.float64).T
        self._logc = np.log(np.maximum(np.asarray(labels.counts, dtype=np.float64), 1.0))

    # -- features of a keystroke ------------------------------------------------------------
    def _successors(self, prev_queries: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        if not prev_queries:
            return _EMPTY_I, _EMPTY_F
        pid = self.labels.id_of(prev_queries[-1])
        if pid < 0:
            return _EMPTY_I, _EMPTY_F
        a, b = int(self._t_indptr[pid]), int(self._t_indptr[pid + 1])
        return self._t_indices[a:b].astype(np.int64), self._t_data[a:b].astype(np.float64)

    def _blend(self, ids: np.ndarray, path: np.ndarray, succ: tuple[np.ndarray, np.ndarray],
               prefix: str) -> np.ndarray:
        w = self._w[bucket_index(len(prefix))]
        s = w[0] * path + w[1] * self._logc[ids]
        s_ids, s_cnt = succ
        if len(s_ids) and w[2]:
            j = np.searchsorted(s_ids, ids)
            j[j >= len(s_ids)] = 0
            hit = s_ids[j] == ids
            s = s + w[2] * np.where(hit, np.log1p(s_cnt[j] * hit), 0.0)
        return s

    def _score(self, prev_queries: Sequence[str], prefix: str, ids: np.ndarray, start: int,
               extra: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Blended scores of `ids` (+ already path-scored `extra`), as (ids, scores)."""
        m, p = self.model, self.params
        cols, vals = m.feat.transform(prev_queries, prefix)
        xd = m.dense(cols, vals)
        try:
            path = m.path_scores(ids, start, xd, p.combine)
            if extra is not None:
                ids = np.concatenate([extra[0], ids])
                path = np.concatenate([extra[1], path])
        finally:
            m.release(xd, cols)
        return ids, self._blend(ids, path, self._successors(prev_queries), prefix)

    # -- public API --------------------------------------------------------------------------
    def candidates(self, prev_queries: Sequence[str], prefix: str, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Up to n label ids extending `prefix`, best first, and their scores.

        Never fewer than min(n, labels extending the prefix): MPC fills what the beam missed.
        """
        if n <= 0:
            return _EMPTY_I, _EMPTY_F
        m, p = self.model, self.params
        lo, hi = self.labels.range(prefix)
        if hi <= lo:
            return _EMPTY_I, _EMPTY_F
        start = m.fixed_level(prefix)
        if hi - lo <= p.exact_threshold:
            ids, s = self._score(prev_queries, prefix, np.arange(lo, hi, dtype=np.int64), start)
        else:
            ids, s = self._search(prev_queries, prefix, lo, hi, start, n)
        if len(ids) > n:
            top = np.argpartition(-s, n - 1)[:n]
            ids, s = ids[top], s[top]
        order = np.lexsort((ids, -s))
        ids, s = ids[order], s[order]
        if len(ids) < min(n, hi - lo):
            ids, s = self._fill(ids, s, prefix, n)
        return ids, s

    def _search(self, prev_queries: Sequence[str], prefix: str, lo: int, hi: int, start: int,
                n: int) -> tuple[np.ndarray, np.ndarray]:
        m, p = self.model, self.params
        succ = self._successors(prev_queries)
        pool = [self.labels.top_popular(prefix, p.pool).astype(np.int64)]
        if len(succ[0]):
            pool.append(succ[0][(succ[0] >= lo) & (succ[0] < hi)])
        cols, vals = m.feat.transform(prev_queries, prefix)
        xd = m.dense(cols, vals)
        try:
            node = int(m.anc[start][m.pos[lo]])
            b_ids, b_path = m.beam_search(node, start, lo, hi, len(prefix) > m.depth, max(p.beam, 1), xd,
                                          p.combine)
            extra_ids = np.setdiff1d(np.concatenate(pool), b_ids)
            e_path = m.path_scores(extra_ids, start, xd, p.combine)
        finally:
            m.release(xd, cols)
        ids = np.concatenate([b_ids, extra_ids])
        path = np.concatenate([b_path, e_path])
        return ids, self._blend(ids, path, succ, prefix)

    def _fill(self, ids: np.ndarray, s: np.ndarray, prefix: str, n: int) -> tuple[np.ndarray, np.ndarray]:
        have = set(ids.tolist())
        more = [i for i in self.labels.top_popular(prefix, n + len(ids)).tolist() if i not in have]
        more = more[: n - len(ids)]
        floor = (float(s.min()) if len(s) else 0.0) - 1.0
        return (np.concatenate([ids, np.array(more, dtype=np.int64)]),
                np.concatenate([s, floor - np.arange(len(more), dtype=np.float64)]))

    def score_labels(self, prev_queries: Sequence[str], prefix: str, label_ids: np.ndarray) -> np.ndarray:
        """Blended scores of any label ids for this keystroke (same scale as `candidates`).

        Labels that do not extend `prefix` are scored as if their trie levels matched it.
        """
        ids = np.asarray(label_ids, dtype=np.int64)
        if not len(ids):
            return _EMPTY_F
        return self._score(prev_queries, prefix, ids, self.model.fixed_level(prefix))[1]

    def complete(self, prev_queries: Sequence[str], prefix: str, k: int = 10) -> list[Completion]:
        ids, s = self.candidates(prev_queries, prefix, k)
        text = self.labels.text
        return [Completion(text(i), sc, "index") for i, sc in zip(ids.tolist(), s.tolist(), strict=True)]


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
    for level in range(1, height + 1):
        w = files.matrix(f"xmr_w_{level}")
        if w.shape != (tree.level_size(level), feat.dim):
            raise IndexFormatError(f"{files.path}: xmr level {level} weights have shape {w.shape}")
        if w.nnz and (int(np.max(w.indices)) >= feat.dim or int(np.min(w.indices)) < 0):
            raise IndexFormatError(f"{files.path}: xmr level {level} weights index past the features")
        levels.append(LevelWeights(np.asarray(w.indptr, dtype=np.int64), w.indices, w.data))
    vkeys = [files.array(f"xmr_vkey_{level}") for level in range(height)]
    if any(k.shape != (n,) for k in vkeys):
        raise IndexFormatError(f"{files.path}: xmr validity keys disagree with {n} labels")
    return XMRModel(feat, tree, levels, vkeys)


def load_xmr_ranker(files: IndexFiles, labels: LabelIndex, mpc: MPCRanker,
                    params: RankParams | None = None) -> XMRRanker:
    """The ranker of an xmr index; `params` overrides the rank settings stored with it."""
    model = load_model(files)
    if model.n != len(labels):
        raise IndexFormatError(f"{files.path}: xmr model has {model.n} labels, the index {len(labels)}")
    trans = files.matrix("xmr_trans")
    if trans.shape != (model.n, model.n):
        raise IndexFormatError(f"{files.path}: xmr transitions have shape {trans.shape}")
    rank = params or RankParams.from_json(files.json("xmr_model").get("rank"))
    return XMRRanker(model, labels, mpc, trans, rank)
