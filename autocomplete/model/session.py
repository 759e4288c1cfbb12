"""What a session's previous queries say about each label: transitions and shared words.

Two artifacts, both keyed by label id:
    xmr_trans        counts[prev label, next label] over consecutive training queries (CSR)
    xmr_label_words  each label's l2-normalised word TF-IDF (CSR, columns = the featuriser's
                     word ids), and its transpose: word -> labels holding it (postings)

`SessionTables` answers, for one keystroke: the successors of a previous query
(`successors`), the cosines of many labels' words with the session's words (`overlaps`,
through whichever of the two layouts is cheaper), and the labels of a prefix's range that the
session speaks for (`candidates`). Pure arrays in, arrays out.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .artifact import IndexFiles, IndexWriter
from .errors import IndexFormatError
from .levels import check_matrix, sorted_unique, spans

TRANSITIONS, LABEL_WORDS = "xmr_trans", "xmr_label_words"
#: a session word whose labels in the prefix's range exceed this brings no candidates
SESSION_POSTINGS = 1000
_EMPTY_I = np.empty(0, dtype=np.int64)
_EMPTY_F = np.empty(0, dtype=np.float64)

WordVector = tuple[np.ndarray, np.ndarray]  # (word ids, l2-normalised weights)


class SessionTables:
    def __init__(self, trans: sp.csr_matrix, label_words: sp.csr_matrix) -> None:
        n = int(label_words.shape[0])
        if trans.shape != (n, n):
            raise IndexFormatError(f"xmr transitions have shape {trans.shape}, labels {n}")
        self.trans, self.label_words = trans, label_words
        self._t_indptr = np.asarray(trans.indptr)
        self._t_indices = np.asarray(trans.indices)
        self._t_data = np.asarray(trans.data)
        self._w_ip = np.asarray(label_words.indptr)
        self._w_ix = np.asarray(label_words.indices)
        self._w_dt = np.asarray(label_words.data)
        postings = label_words.T.tocsr()
        self._post_ip = np.asarray(postings.indptr)
        self._post_ix = np.asarray(postings.indices).astype(np.int64)
        self._post_dt = np.asarray(postings.data, dtype=np.float64)
        # (word, label) as one sorted int64 key: a word's postings in an id span are found
        # for all the context's words by two searchsorted calls
        self._stride = n + 1
        self._post_key = (
            np.repeat(np.arange(len(self._post_ip) - 1, dtype=np.int64), np.diff(self._post_ip))
            * self._stride
            + self._post_ix
        )
        self._words_per_label = max(1.0, float(label_words.nnz) / max(n, 1))

    # -- persistence ----------------------------------------------------------------------
    def save(self, w: IndexWriter) -> None:
        w.matrix(TRANSITIONS, self.trans)
        w.matrix(LABEL_WORDS, self.label_words)

    @classmethod
    def load(cls, files: IndexFiles, n_labels: int, n_words: int) -> SessionTables:
        trans = files.matrix(TRANSITIONS)
        check_matrix(trans, (n_labels, n_labels), f"{files.path}: xmr transitions")
        words = files.matrix(LABEL_WORDS)
        check_matrix(words, (n_labels, n_words), f"{files.path}: xmr label words")
        return cls(trans, words)

    # -- one keystroke --------------------------------------------------------------------
    def successors(self, label: int) -> tuple[np.ndarray, np.ndarray]:
        """Labels that followed `label` in training (sorted ids) and how often; none for -1."""
        if label < 0:
            return _EMPTY_I, _EMPTY_F
        a, b = int(self._t_indptr[label]), int(self._t_indptr[label + 1])
        return self._t_indices[a:b].astype(np.int64), self._t_data[a:b].astype(np.float64)

    @staticmethod
    def lookup(keys: np.ndarray, vals: np.ndarray, ids: np.ndarray) -> np.ndarray:
        """vals[keys == id] for each id (sorted keys), 0 where absent."""
        out = np.zeros(len(ids))
        if len(keys) and len(ids):
            j = np.minimum(np.searchsorted(keys, ids), len(keys) - 1)
            hit = keys[j] == ids
            out[hit] = vals[j[hit]]
        return out

    def overlaps(
        self, ids: np.ndarray, prev: WordVector, context: WordVector
    ) -> tuple[np.ndarray, np.ndarray]:
        """Cosines of each label's words with the previous query's (`prev`) and the recent
        context's (`context`, which includes the previous query's words).

        Two ways to the same sums, the cheaper chosen per call: gather every candidate's
        words (few candidates), or walk the postings of the context's few words inside the
        candidates' id span (thousands of candidates, as when a short prefix is scored
        exactly).
        """
        n = len(ids)
        cc, cv = context
        if not n or not len(cc):
            return np.zeros(n), np.zeros(n)
        pc, pv = prev
        order = np.argsort(cc)
        cols = cc[order].astype(np.int64)
        weight = np.zeros((2, len(cols)))
        weight[1] = cv[order]
        weight[0, np.searchsorted(cols, pc)] = pv
        id_lo, id_hi = int(ids.min()), int(ids.max())
        key = cols * self._stride
        first = np.searchsorted(self._post_key, key + id_lo)
        lens = np.searchsorted(self._post_key, key + id_hi, side="right") - first
        if int(lens.sum()) > n * self._words_per_label:
            return self._overlaps_by_label(ids, cols, weight)
        flat = spans(first, lens)
        labs = self._post_ix[flat]
        which = np.repeat(np.arange(len(cols)), lens)
        val = self._post_dt[flat]
        increasing = bool((ids[1:] > ids[:-1]).all())  # sorted and unique, as callers ask
        if increasing and n == id_hi - id_lo + 1:  # id_lo..id_hi: a posting's row is its offset
            k, size = labs - id_lo, n
        else:
            u = ids if increasing else np.unique(ids)
            k = np.minimum(np.searchsorted(u, labs), len(u) - 1)
            hit = u[k] == labs
            k, which, val, size = k[hit], which[hit], val[hit], len(u)
        ov_prev = np.bincount(k, val * weight[0, which], minlength=size)
        ov_ctx = np.bincount(k, val * weight[1, which], minlength=size)
        if increasing:
            return ov_prev, ov_ctx
        inv = np.searchsorted(u, ids)
        return ov_prev[inv], ov_ctx[inv]

    def _overlaps_by_label(
        self, ids: np.ndarray, cols: np.ndarray, weight: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        a = self._w_ip[ids]
        lens = self._w_ip[ids + 1] - a
        flat = spans(a, lens)
        seg = np.repeat(np.arange(len(ids)), lens)
        col, dat = self._w_ix[flat], self._w_dt[flat]
        j = np.minimum(np.searchsorted(cols, col), len(cols) - 1)
        hit = cols[j] == col
        seg, dat, j = seg[hit], dat[hit], j[hit]
        ov_prev = np.bincount(seg, dat * weight[0, j], minlength=len(ids))
        ov_ctx = np.bincount(seg, dat * weight[1, j], minlength=len(ids))
        return ov_prev, ov_ctx

    def candidates(
        self, found: list[np.ndarray], context: WordVector, lo: int, hi: int
    ) -> tuple[np.ndarray, bool]:
        """Labels in [lo, hi) the session speaks for, which a beam may not reach: the ids in
        `found` (successors, the previous queries themselves) and labels sharing a
        not-too-common word with the context (`SESSION_POSTINGS` at most per word).

        Also whether no word was left out for being too common here: then the answer for any
        narrower range is this one's ids inside it (a longer prefix needs no new search).
        """
        parts = list(found)
        closed = True
        for c in context[0].tolist():
            a, b = int(self._post_ip[c]), int(self._post_ip[c + 1])
            post = self._post_ix[a:b]
            i, j = int(post.searchsorted(lo)), int(post.searchsorted(hi))
            if 0 < j - i <= SESSION_POSTINGS:
                parts.append(post[i:j])
            elif j - i > SESSION_POSTINGS:
                closed = False
        if not parts:
            return _EMPTY_I, closed
        ids = np.concatenate(parts)
        return sorted_unique(ids[(ids >= lo) & (ids < hi)]), closed
