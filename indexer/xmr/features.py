"""The featuriser shared by the indexer and the server: (previous queries, prefix) -> sparse x.

    x = [ l2norm( s * l2norm(word TF-IDF(context)) ; l2norm(char TF-IDF(prefix)) ) ; 1 ]

with s = `session_weight`.

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
_CACHE = 1 << 15  # entries per serving cache (cleared when full)
_ONE = np.ones(1)


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
        # serving caches: a session types prefix after prefix of one query after one
        # context, so each keystroke extends a cached prefix by one character
        self._raw: dict[str, dict[int, float]] = {}
        self._chars: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._words: dict[tuple[str, ...], tuple[np.ndarray, np.ndarray]] = {}
        self._idf64 = idf.astype(np.float64)

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

    def transform(self, prev_queries: Sequence[str], prefix: str) -> tuple[np.ndarray, np.ndarray]:
        """One input row as (column ids int32, values float32); the bias column is last.

        Same values as `transform_many`; blocks are cached per prefix and per context.
        """
        wc, wv = self._word_part(tuple(prev_queries[-self.params.context_window :]))
        cc, cv = self._char_part(prefix)
        if len(wc) and len(cc):
            f = 1.0 / math.sqrt(self.params.session_weight**2 + 1.0)
            vals = np.concatenate([wv * f, cv * f, _ONE])
        else:
            vals = np.concatenate([wv / self.params.session_weight if len(wc) else wv, cv, _ONE])
        cols = np.concatenate([wc, cc, np.array([self.bias_col], dtype=np.int32)])
        return cols, vals.astype(np.float32)

    def _unit(self, block: dict[int, float], scale: float) -> tuple[np.ndarray, np.ndarray]:
        cols = np.fromiter(block, dtype=np.int32, count=len(block))
        vals = np.fromiter(block.values(), dtype=np.float64, count=len(block)) * self._idf64[cols]
        norm = math.sqrt(float(vals @ vals))
        return cols, (vals * (scale / norm) if norm > 0 else vals)

    def _char_part(self, prefix: str) -> tuple[np.ndarray, np.ndarray]:
        hit = self._chars.get(prefix)
        if hit is None:
            if len(self._chars) >= _CACHE:
                self._chars.clear()
            hit = self._chars[prefix] = self._unit(self._raw_chars(prefix), 1.0)
        return hit

    def _raw_chars(self, text: str) -> dict[int, float]:
        """`_char_block(text)`, extending the cached block of text[:-1] when there is one."""
        base = self._raw.get(text[:-1]) if text else None
        if base is None:
            acc = self._char_block(text)
        else:
            acc = dict(base)
            n, nmax, gget, off = len(text), self.params.ngram_max, self._gget, self.n_words
            for i in range(max(0, n - nmax), n):
                k = gget(text[i:n])
                if k is not None:
                    start = i == 0 or text[i - 1] == " "
                    pos = i if i < _MAX_POS - 1 else _MAX_POS - 1
                    c = off + k
                    acc[c] = acc.get(c, 0.0) + (self._posw_start[pos] if start else self._posw[pos])
        if len(self._raw) >= _CACHE:
            self._raw.clear()
        self._raw[text] = acc
        return acc

    def _word_part(self, ctx: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
        hit = self._words.get(ctx)
        if hit is None:
            if len(self._words) >= _CACHE:
                self._words.clear()
            hit = self._words[ctx] = self._unit(self._word_block(ctx), self.params.session_weight)
        return hit

    def transform_row(self, prev_queries: Sequence[str], prefix: str) -> sp.csr_matrix:
        c, v = self.transform(prev_queries, prefix)
        order = np.argsort(c)
        return sp.csr_matrix((v[order], c[order], np.array([0, len(c)])), shape=(1, self.dim))

    # -- batches (training) ---------------------------------------------------------------
    def transform_many(
        self, contexts: Sequence[Sequence[str]], prefixes: Sequence[str]
    ) -> sp.csr_matrix:
        """Rows for many (context, prefix) pairs; equal to stacking `transform`, but each
        distinct context and prefix is featurised once and the rest is sparse algebra."""
        window = self.params.context_window
        ctx_ids: dict[tuple[str, ...], int] = {}
        pre_ids: dict[str, int] = {}
        ci = np.fromiter(
            (ctx_ids.setdefault(tuple(c[-window:]), len(ctx_ids)) for c in contexts),
            dtype=np.int64,
            count=len(contexts),
        )
        pi = np.fromiter(
            (pre_ids.setdefault(p, len(pre_ids)) for p in prefixes),
            dtype=np.int64,
            count=len(prefixes),
        )
        words, w2 = self._blocks([self._word_block(k) for k in ctx_ids], self.params.session_weight)
        chars, c2 = self._blocks([self._char_block(p) for p in pre_ids], 1.0)
        n2 = w2[ci] + c2[pi]
        scale = np.where(n2 > 0, 1.0 / np.sqrt(np.where(n2 > 0, n2, 1.0)), 1.0)
        body = sp.diags(scale) @ (words[ci] + chars[pi])
        bias = sp.csr_matrix(
            (np.ones(len(ci)), (np.arange(len(ci)), np.full(len(ci), self.bias_col))),
            shape=(len(ci), self.dim),
        )
        m = sp.csr_matrix(body + bias, dtype=np.float32)
        m.sort_indices()
        return m

    def _blocks(
        self, blocks: list[dict[int, float]], scale: float
    ) -> tuple[sp.csr_matrix, np.ndarray]:
        """Rows of idf-weighted blocks, each l2-normalised then scaled; and squared row norms."""
        idf = self.idf_.astype(np.float64)
        lens = np.fromiter((len(b) for b in blocks), dtype=np.int64, count=len(blocks))
        cols = np.fromiter((c for b in blocks for c in b), dtype=np.int64, count=int(lens.sum()))
        vals = np.fromiter(
            (v for b in blocks for v in b.values()), dtype=np.float64, count=len(cols)
        )
        vals *= idf[cols]
        rows = np.repeat(np.arange(len(blocks)), lens)
        norms = np.sqrt(np.bincount(rows, vals * vals, minlength=len(blocks)))
        vals *= scale / np.where(norms > 0, norms, 1.0)[rows]
        m = sp.csr_matrix((vals, (rows, cols)), shape=(len(blocks), self.dim))
        return m, np.where(lens > 0, scale * scale, 0.0)

    def word_vector(self, queries: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """l2-normalised word TF-IDF of the queries taken together (columns = word ids)."""
        acc: dict[int, float] = {}
        wget = self._wget
        for q in queries:
            for t in q.split():
                k = wget(t)
                if k is not None:
                    acc[k] = acc.get(k, 0.0) + 1.0
        if not acc:
            return np.empty(0, dtype=np.int64), np.empty(0)
        return self._unit(acc, 1.0)

    def label_words(self, texts: Sequence[str]) -> sp.csr_matrix:
        """Rows of `word_vector([text])` for each text: (len(texts), n_words) float32."""
        rows = [self.word_vector([t]) for t in texts]
        lens = np.fromiter((len(c) for c, _ in rows), dtype=np.int64, count=len(rows))
        indptr = np.concatenate(([0], np.cumsum(lens)))
        cols = np.concatenate([c for c, _ in rows]) if rows else np.empty(0, dtype=np.int64)
        vals = np.concatenate([v for _, v in rows]) if rows else np.empty(0)
        m = sp.csr_matrix(
            (vals.astype(np.float32), cols.astype(np.int32), indptr),
            shape=(len(texts), self.n_words),
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
