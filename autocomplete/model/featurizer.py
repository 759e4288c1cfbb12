"""The XR-Linear featuriser: (previous queries, prefix) -> sparse x; fitted at build, served.

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
from dataclasses import asdict, dataclass, fields
from typing import Any

import marisa_trie
import numpy as np
import scipy.sparse as sp

from .analyzer import MAX_POS, START_TOKEN, char_ngrams, context_words
from .artifact import IndexFiles, IndexWriter
from .errors import IndexFormatError
from .memo import Memo, MemoStats

#: files: the word and n-gram vocabularies (tries), the IDF, and these settings with a version
WORDS, GRAMS, IDF, SETTINGS = "xmr_words", "xmr_grams", "xmr_idf", "xmr_featurizer"
VERSION = 1
_CACHE = 1 << 15  # entries per serving cache (cleared when full)
_ONE = np.ones(1)


def _idf(df: np.ndarray, n_docs: int) -> np.ndarray:
    # scikit-learn's smooth idf: log((1 + n) / (1 + df)) + 1, never zero
    return (np.log((1.0 + n_docs) / (1.0 + df)) + 1.0).astype(np.float32)


@dataclass(frozen=True)
class FeaturizerParams:
    """What the featuriser computes (fixed at build time; the model's input space).

    ngram_max: char n-grams of length 1..ngram_max (1..5; default 3).
    position_decay: an n-gram starting at char position i gets weight 1/(i+1)**position_decay;
        1.0 is the paper's prefix weighting, 0.0 turns it off (plain char TF-IDF).
    word_start_boost: extra multiplier for n-grams that start a word (>= 1; 1 = off).
    session_weight: weight of the previous-query word block against the prefix block before
        the joint l2 normalisation (0 = session features off).
    context_window: how many previous session queries feed the word block (>= 1; the most
        recent has weight 1, the one before `context_decay`, then `context_decay**2`, ...).
    context_decay: see context_window (0..1; 0 = previous query only).
    start_token: a session's first query gets a "<start>" word, so the model can learn which
        queries begin sessions. Off by default: the model then learns P(query | session
        start), which on DEV ranks first queries worse than plain popularity does.
    """

    ngram_max: int = 3
    position_decay: float = 1.0
    word_start_boost: float = 2.0
    session_weight: float = 1.0
    context_window: int = 1
    context_decay: float = 0.0
    start_token: bool = False

    def __post_init__(self) -> None:
        if not 1 <= self.ngram_max <= 5:
            raise ValueError(f"ngram_max must be in 1..5, got {self.ngram_max}")
        if self.position_decay < 0:
            raise ValueError(f"position_decay must be >= 0, got {self.position_decay}")
        if self.word_start_boost < 1:
            raise ValueError(f"word_start_boost must be >= 1, got {self.word_start_boost}")
        if self.session_weight < 0:
            raise ValueError(f"session_weight must be >= 0, got {self.session_weight}")
        if self.context_window < 1 or not 0 <= self.context_decay <= 1:
            raise ValueError("context_window must be >= 1 and context_decay in [0, 1]")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict[str, Any] | None) -> FeaturizerParams:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in (d or {}).items() if k in known})


class Featurizer:
    """Maps (previous queries, prefix) and label texts to sparse rows; pure, cheap to call.

    `fit` learns the vocabularies and IDF from the label texts (training queries, one
    document each); `save` / `load` move them and the settings through an index directory
    (tries mmap'd).
    """

    def __init__(
        self,
        params: FeaturizerParams,
        words: marisa_trie.Trie,
        grams: marisa_trie.Trie,
        idf: np.ndarray,
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
        self._posw = [(i + 1.0) ** -p.position_decay for i in range(MAX_POS)]
        self._posw_start = [w * p.word_start_boost for w in self._posw]
        self._wget = words.get
        self._gget = grams.get
        # serving caches: a session types prefix after prefix of one query after one
        # context, so each keystroke extends a cached prefix by one character
        self._raw: Memo[str, dict[int, float]] = Memo(_CACHE)
        self._chars: Memo[str, tuple[np.ndarray, np.ndarray]] = Memo(_CACHE)
        self._words: Memo[tuple[str, ...], tuple[np.ndarray, np.ndarray]] = Memo(_CACHE)
        self._idf64 = idf.astype(np.float64)

    # -- learning -------------------------------------------------------------------------
    @classmethod
    def fit(cls, params: FeaturizerParams, texts: Sequence[str]) -> Featurizer:
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
        """`char_ngrams` of `text` by column; n-grams outside the vocabulary are dropped."""
        p, gget, off = self.params, self._gget, self.n_words
        grams = char_ngrams(text, p.ngram_max, p.position_decay, p.word_start_boost)
        return {off + k: w for g, w in grams.items() if (k := gget(g)) is not None}

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
        memo = self._chars
        memo.lookups += 1
        hit = memo.data.get(prefix)
        if hit is None:
            hit = memo.store(prefix, self._unit(self._raw_chars(prefix), 1.0))
        return hit

    def _raw_chars(self, text: str) -> dict[int, float]:
        """`_char_block(text)`, extending the cached block of text[:-1] when there is one."""
        memo = self._raw
        memo.lookups += 1
        base = memo.data.get(text[:-1]) if text else None
        if base is None:
            return memo.store(text, self._char_block(text))
        acc = dict(base)
        n, nmax, gget, off = len(text), self.params.ngram_max, self._gget, self.n_words
        for i in range(max(0, n - nmax), n):
            k = gget(text[i:n])
            if k is not None:
                start = i == 0 or text[i - 1] == " "
                pos = i if i < MAX_POS - 1 else MAX_POS - 1
                c = off + k
                acc[c] = acc.get(c, 0.0) + (self._posw_start[pos] if start else self._posw[pos])
        return memo.put(text, acc)

    def _word_part(self, ctx: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
        memo = self._words
        memo.lookups += 1
        hit = memo.data.get(ctx)
        if hit is None:
            hit = memo.store(ctx, self._unit(self._word_block(ctx), self.params.session_weight))
        return hit

    def memo_stats(self) -> dict[str, MemoStats]:
        """The serving memos: a prefix's raw character block (a hit: the block of the prefix
        one character shorter, extended), its features, and a context's word features."""
        return {
            "xmr_prefix_blocks": self._raw.stats(),
            "xmr_prefix_features": self._chars.stats(),
            "xmr_context_features": self._words.stats(),
        }

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
        w.trie(WORDS, self.words_)
        w.trie(GRAMS, self.grams_)
        w.array(IDF, self.idf_)
        w.json(SETTINGS, {"version": VERSION, "params": self.params.to_json()})

    @classmethod
    def load(cls, files: IndexFiles) -> Featurizer:
        meta = files.json(SETTINGS)
        if not isinstance(meta, dict) or meta.get("version") != VERSION:
            found = meta.get("version") if isinstance(meta, dict) else meta
            raise IndexFormatError(
                f"{files.path}: featuriser version {found!r}, this build reads {VERSION}"
            )
        try:
            params = FeaturizerParams.from_json(meta.get("params"))
        except (TypeError, ValueError) as exc:
            raise IndexFormatError(f"{files.path}: featuriser settings: {exc}") from None
        return cls(params, files.trie(WORDS), files.trie(GRAMS), np.asarray(files.array(IDF)))
