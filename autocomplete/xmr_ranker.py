"""The XR-Linear ranker at serving time: one keystroke's path scores and session features.

`XMRRanker.complete` ranks the labels extending the prefix by the model's path score alone
(the bare model, for benchmarks and `build-index --no-blend`; MPC fills what the search
missed). The product ranks with the blend, which asks each keystroke two things: the model's
own candidates (`XMRKeystroke.candidates`), then the model's features of every label any
candidate source found (`XMRKeystroke.features`, the columns `FEATURES`).

Per keystroke: the levels down to the deepest node holding every label that extends the
prefix are fixed (`XMRModel.start_level`). When at most `exact_threshold` labels extend the
prefix, all of them are scored exactly (no valid label is lost to a beam); otherwise a beam
of width `beam` descends the k-means levels, skipping nodes that hold no label extending the
prefix, and the `pool` most popular labels join it with their exact path scores. Apart from
the path score, the session offers its own labels (`XMRKeystroke.session_candidates`). One
`XMRKeystroke` works out the range, the successors and the input once, and looks up path
scores the beam or the exact pass already found.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from autocomplete.model.artifact import IndexFiles
from autocomplete.model.errors import IndexFormatError
from autocomplete.model.labels import LabelIndex
from autocomplete.model.levels import sorted_unique
from autocomplete.model.memo import Memo, MemoStats
from autocomplete.model.session import SessionTables, WordVector
from autocomplete.model.xmr import Query, RankParams, XMRModel

from .ranking import Completion, Context

#: the model's features of a candidate label, as the blend reads them
FEATURES = (
    "xmr_path",  # log P(label | x) below the prefix's common ancestor (the model's score)
    "xmr_prev_cosine",  # cosine of word TF-IDF: the previous query vs the label
    "xmr_context_cosine",  # same, against the last `OVERLAP_WINDOW` queries together
    "xmr_trans",  # log(1 + times the label followed the previous query in training)
    "xmr_trans_older",  # max log(1 + transitions) from the 2nd..4th most recent queries
)
OVERLAP_WINDOW = 4
#: sessions whose latest offer of labels a ranker remembers (the oldest dropped beyond it)
OFFERS_MEMO = 1 << 12
#: sessions whose labels' session features a ranker remembers, and labels per session
DESCRIBED_MEMO, DESCRIBED_PER_SESSION = 1 << 11, 1 << 8
_EMPTY_I = np.empty(0, dtype=np.int64)
_EMPTY_F = np.empty(0, dtype=np.float64)
_NO_WORDS: WordVector = (_EMPTY_I, _EMPTY_F)
_NOTHING_DESCRIBED = (_EMPTY_I, np.empty((0, len(FEATURES) - 1)))


class XMRRanker:
    def __init__(self, model: XMRModel, session: SessionTables, labels: LabelIndex) -> None:
        if model.n != len(labels):
            raise IndexFormatError(f"xmr model has {model.n} labels, the index {len(labels)}")
        self.model, self.session, self.labels = model, session, labels
        #: recent queries -> (lo, hi, the session's ordered labels in [lo, hi)) of the last
        #: keystroke after them whose search left no word out; see `_session_candidates`
        self.offers: Memo[tuple[str, ...], tuple[int, int, np.ndarray]] = Memo(
            OFFERS_MEMO, oldest_out=True
        )
        #: recent queries -> (sorted label ids, their session features); see `_described`
        self.described: Memo[tuple[str, ...], tuple[np.ndarray, np.ndarray]] = Memo(
            DESCRIBED_MEMO, oldest_out=True
        )
        #: recent queries -> word vectors (the latest query's, all of them); see `_word_vectors`
        self.words: Memo[tuple[str, ...], tuple[WordVector, WordVector]] = Memo(
            DESCRIBED_MEMO, oldest_out=True
        )

    def memo_stats(self) -> dict[str, MemoStats]:
        """The model's memos: its input's (the featuriser's), and the per-session offers of
        labels, labels' session features and word vectors (entries are sessions)."""
        return {
            **self.model.feat.memo_stats(),
            # a miss: the session's labels searched; some asked label's features computed
            "session_offers": self.offers.stats(),
            "session_features": self.described.stats(),
            "session_words": self.words.stats(),
        }

    @classmethod
    def load(
        cls, files: IndexFiles, labels: LabelIndex, rank: RankParams | None = None
    ) -> XMRRanker:
        """The ranker of an xmr index; `rank` overrides the search settings stored with it."""
        model = XMRModel.load(files, rank)
        return cls(model, SessionTables.load(files, model.n, model.feat.n_words), labels)

    def keystroke(self, previous: Sequence[str], prefix: str, path: bool = True) -> XMRKeystroke:
        """One keystroke's shared work; `path`: False leaves the path score out (the search
        is not run; the session features are)."""
        return XMRKeystroke(self, previous, prefix, path)

    def complete(self, context: Context, prefix: str, k: int = 10) -> list[Completion]:
        ids, s = self.keystroke(context.previous, prefix).candidates(k)
        text = self.labels.text
        return [
            Completion(text(i), sc, "index") for i, sc in zip(ids.tolist(), s.tolist(), strict=True)
        ]


class XMRKeystroke:
    """One keystroke (previous queries + prefix) against an `XMRRanker`.

    Why an object: the blend asks the model for its candidates and then for the features of
    every label candidate. Both need the prefix's range, the successors of the previous
    query, the featurised input and path scores; computed once here, a path score found by
    the beam or the exact range pass is looked up instead of recomputed (at two typed
    characters that halves the model's time). Not thread-safe: one thread uses one
    keystroke, as the server's ranking call does.
    """

    __slots__ = (
        "r",
        "prev",
        "prefix",
        "with_path",
        "lo",
        "hi",
        "succ",
        "_q",
        "_start",
        "_known",
        "_words",
        "_session",
    )

    def __init__(
        self, ranker: XMRRanker, previous: Sequence[str], prefix: str, with_path: bool = True
    ) -> None:
        self.r = ranker
        self.prev = previous
        self.prefix = prefix
        self.with_path = with_path
        self.lo, self.hi = ranker.labels.range(prefix)
        self.succ = self._successors(previous[-1] if previous else "")
        self._q: Query | None = None
        self._start = -1
        #: path scores found so far: (sorted label ids in [lo, hi), their path scores)
        self._known: tuple[np.ndarray, np.ndarray] = (_EMPTY_I, _EMPTY_F)
        self._words: tuple[WordVector, WordVector] | None = None
        self._session: np.ndarray | None = None

    def _successors(self, query: str) -> tuple[np.ndarray, np.ndarray]:
        return self.r.session.successors(self.r.labels.id_of(query) if query else -1)

    def _word_vectors(self) -> tuple[WordVector, WordVector]:
        """Word vectors of the previous query and of the recent context."""
        if self._words is None:
            self._words = (_NO_WORDS, _NO_WORDS)
            if self.prev:  # the same for every keystroke of a query: remembered per session
                r = self.r
                recent = tuple(self.prev[-OVERLAP_WINDOW:])
                memo = r.words
                memo.lookups += 1
                got = memo.data.get(recent)
                if got is None:
                    feat = r.model.feat
                    got = memo.store(
                        recent, (feat.word_vector(recent[-1:]), feat.word_vector(recent))
                    )
                self._words = got
        return self._words

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

    def paths(self, ids: np.ndarray) -> np.ndarray:
        """Exact path scores of any label ids, known ones looked up; labels that do not
        extend the prefix are scored as if their trie levels matched it."""
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

    def _searched(self) -> tuple[np.ndarray, np.ndarray]:
        """(label ids, path scores) the search reaches: every label extending the prefix when
        there are at most `exact_threshold`; else the beam's and the `pool` most popular."""
        r, m = self.r, self.r.model
        p, lo, hi = m.rank, self.lo, self.hi
        q = self._acquire()
        try:
            if hi - lo <= p.exact_threshold:  # every label of the range: contiguous slices
                ids = np.arange(lo, hi, dtype=np.int64)
                self._known = (ids, m.range_scores(lo, hi, self._start, q))
                return self._known
            node = int(m.anc_lab[self._start][lo])
            b_ids, b_path = m.beam_search(
                node, self._start, lo, hi, len(self.prefix) > m.depth, p.beam, q
            )
        finally:
            m.release(q)
        extra = r.labels.top_popular(self.prefix, p.pool) if p.pool else _EMPTY_I
        if len(extra):
            extra = extra[~np.isin(extra, b_ids, kind="table")]
        ids = np.concatenate([b_ids, extra])
        path = np.concatenate([b_path, self.paths(extra)])
        self._remember(ids, path)
        return ids, path

    def _session_candidates(self) -> np.ndarray:
        """Labels extending the prefix that the session speaks for, in the order
        `session_candidates` offers them.

        The order is a property of each label (followed the session, cosine with its words),
        so when the previous keystroke of the same session found them for a wider range
        with no word left out (`SessionTables.candidates`), this keystroke's are its ids
        inside the narrower range, in the same order (`XMRRanker.offers`).
        """
        if self._session is None:
            self._session = _EMPTY_I
            if self.prev and self.hi > self.lo:
                r = self.r
                recent = tuple(self.prev[-OVERLAP_WINDOW:])
                r.offers.lookups += 1
                offer = r.offers.data.get(recent)
                if offer is not None and offer[0] <= self.lo and self.hi <= offer[1]:
                    ids = offer[2]
                    self._session = ids[(ids >= self.lo) & (ids < self.hi)]
                    return self._session
                r.offers.misses += 1
                follow = [self.succ[0], *(self._successors(older)[0] for older in recent[:-1])]
                found = [*follow, np.array([r.labels.id_of(q) for q in recent], dtype=np.int64)]
                words = self._word_vectors()
                ids, closed = r.session.candidates(found, words[1], self.lo, self.hi)
                if len(ids):
                    followed = np.isin(ids, np.concatenate(follow), kind="table")
                    cosine = r.session.overlaps(ids, *words)[1]
                    self._session = ids[np.lexsort((ids, -cosine, ~followed))]
                if closed:
                    r.offers.put(recent, (self.lo, self.hi, self._session))
        return self._session

    # -- what callers ask ---------------------------------------------------------------
    def candidates(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Up to n label ids extending the prefix, best path score first, and those scores.

        Never fewer than min(n, labels extending the prefix): MPC fills what the search
        missed, below every label it found.
        """
        lo, hi = self.lo, self.hi
        if n <= 0 or hi <= lo:
            return _EMPTY_I, _EMPTY_F
        ids, s = self._searched()
        if len(ids) > n:
            top = np.argpartition(-s, n - 1)[:n]
            ids, s = ids[top], s[top]
        order = np.lexsort((ids, -s))
        ids, s = ids[order], s[order]
        if len(ids) < min(n, hi - lo):
            ids, s = self._fill(ids, s, n)
        return ids, s

    def session_candidates(self, n: int) -> np.ndarray:
        """Up to n labels extending the prefix that the session speaks for: what followed its
        recent queries in training, then labels sharing a not-too-common word with them (or
        the queries themselves), closest to the recent queries' words first
        (`SessionTables.candidates`). A topic the previous query set may lift a label the
        path score ranks low; no path score is needed to find them."""
        return self._session_candidates()[: max(n, 0)]

    def _fill(self, ids: np.ndarray, s: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        have = set(ids.tolist())
        popular = self.r.labels.top_popular(self.prefix, n + len(ids)).tolist()
        more = [i for i in popular if i not in have][: n - len(ids)]
        floor = (float(s.min()) if len(s) else 0.0) - 1.0
        return (
            np.concatenate([ids, np.array(more, dtype=np.int64)]),
            np.concatenate([s, floor - np.arange(len(more), dtype=np.float64)]),
        )

    def features(self, ids: np.ndarray) -> np.ndarray:
        """Rows of `FEATURES` for any label ids (in their order); the path score is 0 for a
        keystroke made without it."""
        ids = np.asarray(ids, dtype=np.int64)
        f = np.zeros((len(ids), len(FEATURES)))
        if not len(ids):
            return f
        if self.with_path:
            f[:, 0] = self.paths(ids)
        if self.prev:
            f[:, 1:] = self._described(ids)
        return f

    def _described(self, ids: np.ndarray) -> np.ndarray:
        """The session features (every column but the path score) of label ids.

        They depend on the recent queries and the label, not on the prefix, so the ranker
        keeps them per recent queries (`XMRRanker.described`): a session typing on asks
        again for most of the labels its previous keystroke asked for.
        """
        r = self.r
        recent = tuple(self.prev[-OVERLAP_WINDOW:])
        memo = r.described
        memo.lookups += 1
        k_ids, k_rows = memo.data.get(recent, _NOTHING_DESCRIBED)
        out = np.empty((len(ids), len(FEATURES) - 1))
        todo = np.ones(len(ids), dtype=bool)
        if len(k_ids):
            j = np.minimum(np.searchsorted(k_ids, ids), len(k_ids) - 1)
            hit = k_ids[j] == ids
            out[hit] = k_rows[j[hit]]
            todo = ~hit
        if todo.any():
            new = sorted_unique(ids[todo])
            rows = self._describe(new)
            out[todo] = rows[np.searchsorted(new, ids[todo])]
            if len(k_ids) and len(k_ids) + len(new) <= DESCRIBED_PER_SESSION:
                both = np.concatenate([k_ids, new])
                order = np.argsort(both, kind="stable")
                new, rows = both[order], np.concatenate([k_rows, rows])[order]
            memo.store(recent, (new, rows))
        return out

    def _describe(self, ids: np.ndarray) -> np.ndarray:
        session = self.r.session
        f = np.zeros((len(ids), len(FEATURES) - 1))
        f[:, 0], f[:, 1] = session.overlaps(ids, *self._word_vectors())
        f[:, 2] = np.log1p(session.lookup(self.succ[0], self.succ[1], ids))
        for older in self.prev[-OVERLAP_WINDOW:-1]:
            s_ids, s_cnt = self._successors(older)
            if len(s_ids):
                np.maximum(f[:, 3], np.log1p(session.lookup(s_ids, s_cnt, ids)), out=f[:, 3])
        return f
