"""The featuriser shared by the indexer and the server: (previous queries, prefix) -> sparse x.

    x = [ l2norm( session_weight * l2norm(word TF-IDF(context)) ; l2norm(char TF-IDF(prefix)) ) ; 1 ]

The char block is *prefix weighted*: an n-gram starting at position i counts
1/(i+1)**position_decay (the paper's 1/(i+1) at decay 1), times `word_start_boost` when it
starts a word. The last column is a constant bias feature (not normalised), as PECOS appends.

Column layout: [0, n_words) words (column = key id in the word trie), [n_words, n_words +
n_grams) char n-grams (n_words + key id in the n-gram trie), then the bias. Marisa key ids
are dense, so the tries *are* the vocabulary: no extra column map to ship or to get wrong.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import marisa_trie
import numpy as np
import scipy.sparse as sp

from ..artifact import IndexFiles, IndexWriter
from ..errors import IndexFormatError
from .params import XMRParams

#: the word a session's first query sees in its (empty) context block
START_TOKEN = "\x02start"
_MAX_POS = 512


def char_ngrams(
    text: str, ngram_max: int, position_decay: float, word_start_boost: float
) -> dict[str, float]:
    """Prefix-weighted char n-gram counts of `text`: {gram: sum of its occurrence weights}.

    An occurrence starting at position i weighs 1/(i+1)**position_decay, times
    word_start_boost when i == 0 or text[i-1] == " ".
    """
    out: dict[str, float] = {}
    n = len(text)
    for i in range(n):
        w = (i + 1.0) ** -position_decay
        if i == 0 or text[i - 1] == " ":
            w *= word_start_boost
        for j in range(i + 1, min(n, i + ngram_max) + 1):
            g = text[i:j]
            out[g] = out.get(g, 0.0) + w
    return out


def context_words(
    prev_queries: Sequence[str], window: int, decay: float, start_token: bool
) -> dict[str, float]:
    """Word counts of the session's last `window` queries, the most recent weighing 1.

    An empty context gives {START_TOKEN: 1} when `start_token`, else {}.
    """
    out: dict[str, float] = {}
    if not prev_queries:
        if start_token:
            out[START_TOKEN] = 1.0
        return out
    w = 1.0
    for q in reversed(prev_queries[-window:]):
        if w <= 0.0:
            break
        for t in q.split():
            out[t] = out.get(t, 0.0) + w
        w *= decay
    return out


def _idf(df: np.ndarray, n_docs: int) -> np.ndarray:
    # scikit-learn's smooth idf: log((1 + n) / (1 + df)) + 1, never zero
    return (np.log((1.0 + n_docs) / (1.0 + df)) + 1.0).astype(np.float32)


@dataclass(frozen=True)
class _Blocks:
    idx: np.ndarray
    val: np.ndarray


class Featurizer:
    """Maps (previous queries, prefix) and label texts to sparse rows; pure, cheap to call.

    `fit` learns the vocabularies and IDF from the label texts (training queries, one
    document each); `save` / `load` move them through an index directory (tries mmap'd).
    """

    def __init__(
        self, params: XMRParams, words: marisa_trie.Trie, grams: marisa_trie.Trie, idf: np.ndarray
    ) -> None:
        self.params = params
        self.words_ = words
        self.grams_ = grams
        self.n_words = len(words)
        self.n_grams = len(grams)
        self.dim = self.n_words + self.n_grams + 1
        self.bias_col = self.dim - 1
        if idf.shape != (self.dim - 1,):
            raise IndexFormatError(
                f"featuriser idf has shape {idf.shape}, vocabularies say {self.dim - 1}"
            )
        self.idf_ = idf
        self._idf_list: list[float] = idf.astype(np.float64).tolist()
        p = params
        self._posw = [(i + 1.0) ** -p.position_decay for i in range(_MAX_POS)]
        self._posw_start = [w * p.word_start_boost for w in self._posw]
        self._wget = words.get
        self._gget = grams.get

    # -- learning -------------------------------------------------------------------------
    @classmethod
    def fit(cls, params: XMRParams, texts: Sequence[str]) -> Featurizer:
        """Vocabularies and IDF from `texts` (the label set: each distinct training query once)."""
        wdf: dict[str, int] = {START_TOKEN: 0}
        gdf: dict[str, int] = {}
        for t in texts:
            for w in set(t.split()):
                wdf[w] = wdf.get(w, 0) + 1
            seen = {
                t[i:j]
                for i in range(len(t))
                for j in range(i + 1, min(len(t), i + params.ngram_max) + 1)
            }
            for g in seen:
                gdf[g] = gdf.get(g, 0) + 1
        words = marisa_trie.Trie(list(wdf))
        grams = marisa_trie.Trie(list(gdf))
        df = np.zeros(len(words) + len(grams), dtype=np.float64)
        for w, c in wdf.items():
            df[words[w]] = c
        for g, c in gdf.items():
            df[len(words) + grams[g]] = c
        return cls(params, words, grams, _idf(df, len(texts)))

    # -- single query (the serving hot path) ----------------------------------------------
    def _char_block(self, text: str) -> dict[int, float]:
        acc: dict[int, float] = {}
        gget, off, nmax = self._gget, self.n_words, self.params.ngram_max
        posw, posws = self._posw, self._posw_start
        n = len(text)
        last = _MAX_POS - 1
        prev_space = True
        for i in range(n):
            w = posws[i if i < last else last] if prev_space else posw[i if i < last else last]
            prev_space = text[i] == " "
            end = i + nmax if i + nmax < n else n
            for j in range(i + 1, end + 1):
                k = gget(text[i:j])
                if k is not None:
                    c = off + k
                    acc[c] = acc.get(c, 0.0) + w
        return acc

    def _word_block(self, prev_queries: Sequence[str]) -> dict[int, float]:
        p = self.params
        acc: dict[int, float] = {}
        if p.session_weight <= 0.0:
            return acc
        wget = self._wget
        for t, w in context_words(
            prev_queries, p.context_window, p.context_decay, p.start_token
        ).items():
            k = wget(t)
            if k is not None:
                acc[k] = w
        return acc

    def _finish(
        self, words: dict[int, float], chars: dict[int, float]
    ) -> tuple[list[int], list[float]]:
        idf = self._idf_list
        cols: list[int] = []
        vals: list[float] = []
        for block, scale in ((words, self.params.session_weight), (chars, 1.0)):
            if not block:
                continue
            bc = list(block)
            bv = [block[c] * idf[c] for c in bc]
            norm = math.sqrt(sum(v * v for v in bv))
            f = scale / norm
            cols += bc
            vals += [v * f for v in bv]
        if vals:
            norm = math.sqrt(sum(v * v for v in vals))
            vals = [v / norm for v in vals]
        cols.append(self.bias_col)
        vals.append(1.0)
        return cols, vals

    def transform(self, prev_queries: Sequence[str], prefix: str) -> tuple[np.ndarray, np.ndarray]:
        """One input row as (column ids int32, values float32); the bias column is last."""
        cols, vals = self._finish(self._word_block(prev_queries), self._char_block(prefix))
        return np.array(cols, dtype=np.int32), np.array(vals, dtype=np.float32)

    def transform_row(self, prev_queries: Sequence[str], prefix: str) -> sp.csr_matrix:
        c, v = self.transform(prev_queries, prefix)
        order = np.argsort(c)
        return sp.csr_matrix((v[order], c[order], np.array([0, len(c)])), shape=(1, self.dim))

    # -- batches (training) ---------------------------------------------------------------
    def transform_many(
        self, contexts: Sequence[Sequence[str]], prefixes: Sequence[str]
    ) -> sp.csr_matrix:
        """Rows for many (context, prefix) pairs; equal to stacking `transform`, but each
        distinct context and prefix is featurised once."""
        wcache: dict[tuple[str, ...], dict[int, float]] = {}
        ccache: dict[str, dict[int, float]] = {}
        indptr = [0]
        cols: list[int] = []
        vals: list[float] = []
        for ctx, pre in zip(contexts, prefixes, strict=True):
            key = tuple(ctx[-self.params.context_window :])
            wb = wcache.get(key)
            if wb is None:
                wb = wcache[key] = self._word_block(key)
            cb = ccache.get(pre)
            if cb is None:
                cb = ccache[pre] = self._char_block(pre)
            c, v = self._finish(wb, cb)
            cols += c
            vals += v
            indptr.append(len(cols))
        m = sp.csr_matrix(
            (
                np.array(vals, dtype=np.float32),
                np.array(cols, dtype=np.int32),
                np.array(indptr, dtype=np.int64),
            ),
            shape=(len(indptr) - 1, self.dim),
        )
        m.sort_indices()
        return m

    def embed_texts(self, texts: Iterable[str]) -> sp.csr_matrix:
        """l2-normalised prefix-weighted char TF-IDF of whole texts (label embeddings; no bias)."""
        indptr = [0]
        cols: list[int] = []
        vals: list[float] = []
        idf = self._idf_list
        for t in texts:
            cb = self._char_block(t)
            bc = list(cb)
            bv = [cb[c] * idf[c] for c in bc]
            norm = math.sqrt(sum(v * v for v in bv)) or 1.0
            cols += bc
            vals += [v / norm for v in bv]
            indptr.append(len(cols))
        m = sp.csr_matrix(
            (
                np.array(vals, dtype=np.float32),
                np.array(cols, dtype=np.int32),
                np.array(indptr, dtype=np.int64),
            ),
            shape=(len(indptr) - 1, self.dim),
        )
        m.sort_indices()
        return m

    # -- persistence ----------------------------------------------------------------------
    def save(self, w: IndexWriter) -> None:
        w.trie("xmr_words", self.words_)
        w.trie("xmr_grams", self.grams_)
        w.array("xmr_idf", self.idf_)

    @classmethod
    def load(cls, files: IndexFiles, params: XMRParams) -> Featurizer:
        return cls(
            params,
            files.trie("xmr_words"),
            files.trie("xmr_grams"),
            np.asarray(files.array("xmr_idf")),
        )
