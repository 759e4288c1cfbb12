"""Session-aware XR-Linear ranker at serving time: featurise, search the tree, blend, top-k.

Reads as PECOS does: the tree (structure), one `LevelWeights` per level (a linear ranker of
each node against its siblings), `XMRModel` (beam search and exact path scoring over both;
these three live in `indexer.xmr.search`, pure arrays), and `XMRRanker` here (the final
score: a tuned blend of the path score, popularity and session features; MPC to fill).
Nothing here does I/O except `load_model` / `load_xmr_ranker`.

Per keystroke: the levels down to the deepest node holding every label that extends the
prefix are fixed (`XMRModel.start_level`). When at most `exact_threshold` labels extend the
prefix, all of them are scored exactly (no valid label is lost to a beam); otherwise a beam
of width `beam` descends the k-means levels, skipping nodes that hold no label extending
the prefix, and the most popular labels and the session's own suggestions join it. A
label's path score is the sum over its levels below the fixed node of the node's
log-softmax among its valid siblings (for softmax-trained models; PECOS's combine
functions otherwise); an only child scores 0 (probability 1).

The blend asks two things of each keystroke: the model's own candidates, then the scores of
every label any candidate source found. Both go to one `XMRKeystroke`, which works out the
range, the successors and the input once and looks up path scores the beam or the exact
pass already found (`XMRRanker.keystroke`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from indexer.artifact import IndexFiles
from indexer.errors import IndexFormatError
from indexer.labels import LabelIndex
from indexer.params import BuildParams
from indexer.xmr.features import Featurizer
from indexer.xmr.params import COMBINE_OF_LOSS, FEATURES, OVERLAP_WINDOW, RankParams, bucket_index
from indexer.xmr.search import LevelWeights, Query, XMRModel, spans
from indexer.xmr.tree import HybridTree

from .mpc import MPCRanker
from .ranking import Completion

MODEL_VERSION = 1
_EMPTY_I = np.empty(0, dtype=np.int64)
_EMPTY_F = np.empty(0, dtype=np.float64)
#: a session word whose labels in the prefix's range exceed this brings no beam candidates
SESSION_POSTINGS = 1000


class XMRRanker:
    """The session-aware ranker: `complete`, plus `candidates` / `score_labels` /
    `features` for a combining scorer. Scores are the final blended scores (higher is
    better): a candidate's `FEATURES` row dotted with the weights of the keystroke's
    condition and prefix-length bucket (`RankParams.weights`)."""

    def __init__(
        self,
        model: XMRModel,
        labels: LabelIndex,
        mpc: MPCRanker,
        trans: Any,
        label_words: Any,
        params: RankParams,
    ) -> None:
        self.model = model
        self.labels = labels
        self.mpc = mpc
        self.params = params
        self._t_indptr = np.asarray(trans.indptr)
        self._t_indices = np.asarray(trans.indices)
        self._t_data = np.asarray(trans.data)
        self._words = LevelWeights(
            np.asarray(label_words.indptr),
            np.asarray(label_words.indices),
            np.asarray(label_words.data),
            np.zeros(label_words.shape[0]),
        )
        # word -> labels containing it (sorted ids): the session's words find candidates
        postings = label_words.T.tocsr()
        self._post_ip = np.asarray(postings.indptr)
        self._post_ix = np.asarray(postings.indices).astype(np.int64)
        self._post_dt = np.asarray(postings.data, dtype=np.float64)
        # (word, label) as one sorted int64 key: a word's postings in an id span are found
        # for all the context's words by two searchsorted calls
        self._n_labels = int(label_words.shape[0]) + 1
        self._post_key = (
            np.repeat(np.arange(len(self._post_ip) - 1, dtype=np.int64), np.diff(self._post_ip))
            * self._n_labels
            + self._post_ix
        )
        self._words_per_label = max(1.0, float(label_words.nnz) / max(label_words.shape[0], 1))
        self._w = np.asarray(params.weights, dtype=np.float64)
        self._logc = np.log(np.maximum(np.asarray(labels.counts, dtype=np.float64), 1.0))

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

    def _overlaps(
        self, ids: np.ndarray, prev_queries: Sequence[str]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Cosines of each label's word TF-IDF with the previous query's and the recent
        context's (the recent context includes the previous query).

        Two ways to the same sums, the cheaper chosen per call: gather every candidate's
        words (few candidates), or walk the postings of the context's few words inside the
        candidates' id span (thousands of candidates, as when a short prefix is scored
        exactly).
        """
        n = len(ids)
        if not prev_queries or not n:
            return np.zeros(n), np.zeros(n)
        feat = self.model.feat
        cc, cv = feat.word_vector(prev_queries[-OVERLAP_WINDOW:])
        if not len(cc):
            return np.zeros(n), np.zeros(n)
        pc, pv = feat.word_vector(prev_queries[-1:])
        order = np.argsort(cc)
        cols = cc[order].astype(np.int64)
        weight = np.zeros((2, len(cols)))
        weight[1] = cv[order]
        weight[0, np.searchsorted(cols, pc)] = pv
        id_lo, id_hi = int(ids.min()), int(ids.max())
        key = cols * self._n_labels
        first = np.searchsorted(self._post_key, key + id_lo)
        lens = np.searchsorted(self._post_key, key + id_hi, side="right") - first
        if int(lens.sum()) > n * self._words_per_label:
            return self._overlaps_by_label(ids, cols, weight)
        flat = spans(first, lens)
        labs = self._post_ix[flat]
        which = np.repeat(np.arange(len(cols)), lens)
        val = self._post_dt[flat]
        whole_span = n == id_hi - id_lo + 1 and bool(np.all(ids[1:] > ids[:-1]))
        if whole_span:  # ids are id_lo..id_hi in order: a posting's row is its offset
            k, size = labs - id_lo, n
        else:
            u, inv = np.unique(ids, return_inverse=True)
            k = np.minimum(np.searchsorted(u, labs), len(u) - 1)
            hit = u[k] == labs
            k, which, val, size = k[hit], which[hit], val[hit], len(u)
        ov_prev = np.bincount(k, val * weight[0, which], minlength=size)
        ov_ctx = np.bincount(k, val * weight[1, which], minlength=size)
        if whole_span:
            return ov_prev, ov_ctx
        return ov_prev[inv], ov_ctx[inv]

    def _overlaps_by_label(
        self, ids: np.ndarray, cols: np.ndarray, weight: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        lw = self._words
        a = lw.ip[ids]
        lens = lw.ip[ids + 1] - a
        flat = spans(a, lens)
        seg = np.repeat(np.arange(len(ids)), lens)
        col, dat = lw.ix[flat], lw.dt[flat]
        j = np.minimum(np.searchsorted(cols, col), len(cols) - 1)
        hit = cols[j] == col
        seg, dat, j = seg[hit], dat[hit], j[hit]
        ov_prev = np.bincount(seg, dat * weight[0, j], minlength=len(ids))
        ov_ctx = np.bincount(seg, dat * weight[1, j], minlength=len(ids))
        return ov_prev, ov_ctx

    def _session_candidates(
        self, prev_queries: Sequence[str], succ_ids: np.ndarray, lo: int, hi: int
    ) -> np.ndarray:
        """Labels in [lo, hi) the session features speak for, which a beam may not reach:
        successors of the recent queries, the queries themselves, and labels sharing a
        not-too-common word with them (`SESSION_POSTINGS` at most per word)."""
        if not prev_queries:
            return _EMPTY_I
        found = [succ_ids]
        recent = prev_queries[-OVERLAP_WINDOW:]
        for older in recent[:-1]:
            found.append(self._successors(older)[0])
        found.append(np.array([self.labels.id_of(q) for q in recent], dtype=np.int64))
        cols, _ = self.model.feat.word_vector(recent)
        for c in cols.tolist():
            a, b = int(self._post_ip[c]), int(self._post_ip[c + 1])
            post = self._post_ix[a:b]
            i, j = np.searchsorted(post, (lo, hi))
            if 0 < j - i <= SESSION_POSTINGS:
                found.append(post[i:j])
        ids = np.concatenate(found)
        return np.unique(ids[(ids >= lo) & (ids < hi)])

    def _feature_matrix(
        self,
        ids: np.ndarray,
        path: np.ndarray,
        prev_queries: Sequence[str],
        succ: tuple[np.ndarray, np.ndarray],
    ) -> np.ndarray:
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

    @staticmethod
    def _condition(prev_queries: Sequence[str], succ_ids: np.ndarray, lo: int, hi: int) -> int:
        """Index into `CONDITIONS`: no previous query / one with / without a known successor
        extending the prefix."""
        if not prev_queries:
            return 0
        return 2 if np.any((succ_ids >= lo) & (succ_ids < hi)) else 1

    def condition(self, prev_queries: Sequence[str], prefix: str) -> int:
        """The keystroke's row of `RankParams.weights` (an index into `CONDITIONS`)."""
        lo, hi = self.labels.range(prefix)
        succ = self._successors(prev_queries[-1] if prev_queries else "")[0]
        return self._condition(prev_queries, succ, lo, hi)

    def keystroke(self, prev_queries: Sequence[str], prefix: str) -> XMRKeystroke:
        """The keystroke's shared state: `candidates` then `score` on one object reuse the
        range, the successors, the featurised input and every path score already found."""
        return XMRKeystroke(self, prev_queries, prefix)

    # -- public API ---------------------------------------------------------------------
    def candidates(
        self, prev_queries: Sequence[str], prefix: str, n: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Up to n label ids extending `prefix`, best first, and their scores.

        Never fewer than min(n, labels extending the prefix): MPC fills what the beam missed.
        """
        return self.keystroke(prev_queries, prefix).candidates(n)

    def _fill(
        self, ids: np.ndarray, s: np.ndarray, prefix: str, n: int
    ) -> tuple[np.ndarray, np.ndarray]:
        have = set(ids.tolist())
        more = [i for i in self.labels.top_popular(prefix, n + len(ids)).tolist() if i not in have]
        more = more[: n - len(ids)]
        floor = (float(s.min()) if len(s) else 0.0) - 1.0
        return (
            np.concatenate([ids, np.array(more, dtype=np.int64)]),
            np.concatenate([s, floor - np.arange(len(more), dtype=np.float64)]),
        )

    def features(
        self, prev_queries: Sequence[str], prefix: str, label_ids: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(label ids, rows of `FEATURES`, the blend weights this keystroke uses) for the given
        labels, or for every candidate the keystroke considers; for tuning the blend and for
        combining scorers. The final score is rows @ weights."""
        ks = self.keystroke(prev_queries, prefix)
        if label_ids is None and ks.hi <= ks.lo:
            return _EMPTY_I, np.empty((0, len(FEATURES))), self._w[0, bucket_index(len(prefix))]
        ids = None if label_ids is None else np.asarray(label_ids, dtype=np.int64)
        return ks.gather(ids)

    def score_labels(
        self, prev_queries: Sequence[str], prefix: str, label_ids: np.ndarray
    ) -> np.ndarray:
        """Blended scores of any label ids for this keystroke (same scale as `candidates`).

        Labels that do not extend `prefix` are scored as if their trie levels matched it.
        """
        return self.keystroke(prev_queries, prefix).score(label_ids)

    def complete(self, prev_queries: Sequence[str], prefix: str, k: int = 10) -> list[Completion]:
        ids, s = self.candidates(prev_queries, prefix, k)
        text = self.labels.text
        return [
            Completion(text(i), sc, "index") for i, sc in zip(ids.tolist(), s.tolist(), strict=True)
        ]


class XMRKeystroke:
    """One keystroke (previous queries + prefix) against an `XMRRanker`.

    Why an object: the blend asks the model for its candidates and then for the scores of
    every label candidate any source found. Both need the prefix's range, the successors of
    the previous query, the featurised input and path scores; computed once here, a path
    score found by the beam or the exact range pass is looked up instead of recomputed
    (at two typed characters that halves the model's time). Not thread-safe: one thread
    uses one keystroke, as the server's ranking call does.
    """

    __slots__ = ("r", "prev", "prefix", "lo", "hi", "succ", "w", "_q", "_start", "_known")

    def __init__(self, ranker: XMRRanker, prev_queries: Sequence[str], prefix: str) -> None:
        self.r = ranker
        self.prev = prev_queries
        self.prefix = prefix
        self.lo, self.hi = ranker.labels.range(prefix)
        self.succ = ranker._successors(prev_queries[-1] if prev_queries else "")
        self.w: np.ndarray = ranker._w[
            ranker._condition(prev_queries, self.succ[0], self.lo, self.hi),
            bucket_index(len(prefix)),
        ]
        self._q: Query | None = None
        self._start = -1
        #: path scores found so far: (sorted label ids in [lo, hi), their path scores)
        self._known: tuple[np.ndarray, np.ndarray] = (_EMPTY_I, _EMPTY_F)

    # -- the model, run lazily --------------------------------------------------------
    def _acquire(self) -> Query:
        m = self.r.model
        if self._q is None:
            self._start = m.start_level(self.prefix, self.lo, self.hi)
            self._q = m.query(self.prev, self.prefix)
        else:
            m.acquire(self._q)
        return self._q

    def _remember(self, ids: np.ndarray, path: np.ndarray) -> None:
        inside = (ids >= self.lo) & (ids < self.hi)
        ids, path = ids[inside], path[inside]
        k_ids, k_path = self._known
        if len(k_ids):
            new = ~np.isin(ids, k_ids, kind="table")
            ids = np.concatenate([k_ids, ids[new]])
            path = np.concatenate([k_path, path[new]])
        order = np.argsort(ids, kind="stable")
        self._known = (ids[order], path[order])

    def _paths(self, ids: np.ndarray) -> np.ndarray:
        """Exact path scores of any label ids, known ones looked up."""
        k_ids, k_path = self._known
        path = np.zeros(len(ids))
        todo = np.ones(len(ids), dtype=bool)
        if len(k_ids) and len(ids):
            j = np.minimum(np.searchsorted(k_ids, ids), len(k_ids) - 1)
            hit = k_ids[j] == ids
            path[hit] = k_path[j[hit]]
            todo = ~hit
        if todo.any():
            m = self.r.model
            q = self._acquire()
            try:
                path[todo] = m.path_scores(ids[todo], self._start, q, self.lo, self.hi)
            finally:
                m.release(q)
        return path

    # -- what callers ask ---------------------------------------------------------------
    def gather(
        self, ids: np.ndarray | None = None, *, exact_path: bool = True
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(label ids, feature rows, blend weights) of `ids` when given, else of the
        keystroke's candidates: every label extending the prefix when there are at most
        `exact_threshold`; else the sources the blend weighs: the model's beam (when the
        path score has weight), the `pool` most popular labels (when popularity has),
        and the session's own suggestions (`_session_candidates`).

        Without `exact_path`, path scores the blend gives no weight are left at 0: the
        scores are the same, the model is not run (`candidates` only needs the scores)."""
        r, m, p = self.r, self.r.model, self.r.params
        lo, hi, w = self.lo, self.hi, self.w
        run_model = exact_path or w[0] != 0.0
        if ids is not None:
            path = self._paths(ids) if run_model else np.zeros(len(ids))
            return ids, r._feature_matrix(ids, path, self.prev, self.succ), w
        if hi - lo <= p.exact_threshold:  # every label of the range: contiguous slices
            ids = np.arange(lo, hi, dtype=np.int64)
            path = np.zeros(len(ids))
            if run_model:
                q = self._acquire()
                try:
                    path = m.range_scores(lo, hi, self._start, q)
                finally:
                    m.release(q)
                self._known = (ids, path)
            return ids, r._feature_matrix(ids, path, self.prev, self.succ), w
        extra = r._session_candidates(self.prev, self.succ[0], lo, hi)
        if p.pool and w[1]:
            extra = np.union1d(extra, r.labels.top_popular(self.prefix, p.pool))
        ids = extra
        path = np.zeros(len(ids))
        if run_model:
            q = self._acquire()
            try:
                node = int(m.anc_lab[self._start][lo])
                b_ids, b_path = m.beam_search(
                    node, self._start, lo, hi, len(self.prefix) > m.depth, p.beam, q
                )
            finally:
                m.release(q)
            if len(ids):
                ids = ids[~np.isin(ids, b_ids, kind="table")]
            path = np.concatenate([b_path, self._paths(ids)])
            ids = np.concatenate([b_ids, ids])
            self._remember(ids, path)
        return ids, r._feature_matrix(ids, path, self.prev, self.succ), w

    def candidates(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Up to n label ids extending the prefix, best first, and their blended scores."""
        lo, hi = self.lo, self.hi
        if n <= 0 or hi <= lo:
            return _EMPTY_I, _EMPTY_F
        ids, f, w = self.gather(exact_path=False)
        s = f @ w
        if len(ids) > n:
            top = np.argpartition(-s, n - 1)[:n]
            ids, s = ids[top], s[top]
        order = np.lexsort((ids, -s))
        ids, s = ids[order], s[order]
        if len(ids) < min(n, hi - lo):
            ids, s = self.r._fill(ids, s, self.prefix, n)
        return ids, s

    def score(self, label_ids: np.ndarray) -> np.ndarray:
        """Blended scores of any label ids (same scale as `candidates`); labels that do not
        extend the prefix are scored as if their trie levels matched it."""
        ids = np.asarray(label_ids, dtype=np.int64)
        if not len(ids):
            return _EMPTY_F
        _, f, w = self.gather(ids, exact_path=False)
        return f @ w


def _check_matrix(files: IndexFiles, w: Any, shape: tuple[int, int], what: str) -> None:
    if w.shape != shape:
        raise IndexFormatError(f"{files.path}: xmr {what} have shape {w.shape}, expected {shape}")
    if w.nnz and (int(np.max(w.indices)) >= shape[1] or int(np.min(w.indices)) < 0):
        raise IndexFormatError(f"{files.path}: xmr {what} index past {shape[1]} columns")


def load_model(files: IndexFiles) -> XMRModel:
    """The pure model of an xmr index directory; `IndexFormatError` when anything disagrees."""
    meta = files.json("xmr_model")
    if not isinstance(meta, dict) or meta.get("version") != MODEL_VERSION:
        found = meta.get("version") if isinstance(meta, dict) else meta
        raise IndexFormatError(
            f"{files.path}: xmr model version {found!r}, this build reads {MODEL_VERSION}"
        )
    xp = BuildParams.from_json(files.manifest.get("build_params", {})).xmr
    feat = Featurizer.load(files, xp)
    height, n = int(meta["height"]), int(meta["n_labels"])
    if feat.dim != meta.get("dim"):
        raise IndexFormatError(
            f"{files.path}: featuriser has {feat.dim} columns, model expects {meta.get('dim')}"
        )
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
        levels.append(
            LevelWeights(np.asarray(w.indptr), np.asarray(w.indices), np.asarray(w.data), bias, t)
        )
    vkeys = [files.array(f"xmr_vkey_{level}") for level in range(height)]
    if any(k.shape != (n,) for k in vkeys):
        raise IndexFormatError(f"{files.path}: xmr validity keys disagree with {n} labels")
    combine = COMBINE_OF_LOSS.get(str(meta.get("loss", "sqhinge")), "l3hinge")
    return XMRModel(feat, tree, levels, vkeys, combine, bool(meta.get("null_class", False)))


def load_xmr_ranker(
    files: IndexFiles, labels: LabelIndex, mpc: MPCRanker, params: RankParams | None = None
) -> XMRRanker:
    """The ranker of an xmr index; `params` overrides the rank settings stored with it."""
    model = load_model(files)
    if model.n != len(labels):
        raise IndexFormatError(
            f"{files.path}: xmr model has {model.n} labels, the index {len(labels)}"
        )
    trans = files.matrix("xmr_trans")
    if trans.shape != (model.n, model.n):
        raise IndexFormatError(f"{files.path}: xmr transitions have shape {trans.shape}")
    words = files.matrix("xmr_label_words")
    _check_matrix(files, words, (model.n, model.feat.n_words), "label words")
    rank = params or RankParams.from_json(files.json("xmr_model").get("rank"))
    if rank.combine is not None:
        model.how = rank.combine
    return XMRRanker(model, labels, mpc, trans, words, rank)
