"""A word bigram language model of the shared queries: how natural a whole candidate reads.

Generated completions glue typed words to a popular query ending; many are queries nobody
would type ("new york times square pizza"). The classic remedy for ranking such synthetic
suggestions is a language-model score of the completed query (Mitra & Craswell, CIKM 2015).
This one is a bigram model over words with the query's start and end as tokens, each
bigram's probability smoothed toward the unigram one (Dirichlet prior, `MU`):

    log P(q) = sum over (a, b) in <s> w1 .. wn </s> of log((c(a b) + MU p(b)) / (c(a) + MU))
    p(b) = (c(b) + 0.1) / (N + 0.1 V)

Counts come from the bounded training queries, each word and bigram kept only when at least
K distinct users used it (`indexer.counts.TrainCounts`, `indexer.kanon.shared_counts`), as
every shared table is. The index stores the word and bigram counts in marisa tries with
count arrays by key id, and every label's score precomputed (`LM_LABELS`): a label candidate
costs one array read; other texts are scored on demand.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from functools import lru_cache

import marisa_trie
import numpy as np

from .artifact import IndexFiles, IndexWriter
from .errors import IndexFormatError
from .memo import Memo, MemoStats, lru_stats

LM_WORDS, LM_BIGRAMS, LM_LABELS = "lm_words", "lm_bigrams", "lm_labels"
START, END = "\x02", "\x03"  # never in a normalised query (control characters are refused)
MU = 10.0
#: texts that are not labels whose scores a process remembers (history, session queries)
MEMO = 1 << 14


def tokens(query: str) -> list[str]:
    return [START, *query.split(), END]


def count(queries: Iterable[tuple[str, int]]) -> tuple[Counter[str], Counter[str]]:
    """Word and bigram ("a b") counts of (query, count) pairs, with start and end tokens."""
    words: Counter[str] = Counter()
    bigrams: Counter[str] = Counter()
    for q, n in queries:
        t = tokens(q)
        for w in t:
            words[w] += n
        for a, b in zip(t, t[1:], strict=False):
            bigrams[f"{a} {b}"] += n
    return words, bigrams


class WordLM:
    """log P(query) under the bigram model (see the module docstring); pure lookups."""

    def __init__(
        self,
        words: marisa_trie.Trie,
        word_counts: np.ndarray,
        bigrams: marisa_trie.Trie,
        bigram_counts: np.ndarray,
        label_scores: np.ndarray | None = None,
    ) -> None:
        if len(words) != len(word_counts) or len(bigrams) != len(bigram_counts):
            raise IndexFormatError("word LM: tries and count arrays disagree")
        self.words, self.word_counts = words, word_counts
        self.bigrams, self.bigram_counts = bigrams, bigram_counts
        self.label_scores = label_scores
        total = float(word_counts.sum())
        self._denom = total + 0.1 * max(len(words), 1)
        self._words: Memo[str, float] = Memo(MEMO)
        self._terms: Memo[str, float] = Memo(MEMO)
        self.score = lru_cache(maxsize=MEMO)(self._score)

    @classmethod
    def of_counts(cls, words: Counter[str], bigrams: Counter[str]) -> WordLM:
        wt, bt = marisa_trie.Trie(words), marisa_trie.Trie(bigrams)
        wc = np.zeros(len(wt), dtype=np.int64)
        for w, n in words.items():
            wc[wt[w]] = n
        bc = np.zeros(len(bt), dtype=np.int64)
        for b, n in bigrams.items():
            bc[bt[b]] = n
        return cls(wt, wc, bt, bc)

    def _count(self, trie: marisa_trie.Trie, counts: np.ndarray, key: str) -> float:
        i = trie.get(key)
        return 0.0 if i is None else float(counts[i])

    def _word(self, word: str) -> float:
        """A word's count, remembered: a few thousand words make up most candidates."""
        memo = self._words
        memo.lookups += 1
        c = memo.data.get(word)
        if c is None:
            c = memo.store(word, self._count(self.words, self.word_counts, word))
        return c

    def _term(self, bigram: str, a: str, b: str) -> float:
        """log P(b | a), remembered by bigram: generated completions are a few heads glued
        to a few thousand endings, so their word pairs recur far more than whole texts."""
        c_ab = self._count(self.bigrams, self.bigram_counts, bigram)
        c_b, c_a = self._word(b), self._word(a)
        return self._terms.store(
            bigram, math.log((c_ab + MU * (c_b + 0.1) / self._denom) / (c_a + MU))
        )

    def _score(self, query: str) -> float:
        t = tokens(query)
        s = 0.0
        self._terms.lookups += len(t) - 1
        known = self._terms.data.get
        for a, b in zip(t, t[1:], strict=False):
            key = f"{a} {b}"
            term = known(key)
            s += self._term(key, a, b) if term is None else term
        return s

    def memo_stats(self) -> dict[str, MemoStats]:
        """Scores of texts that are not labels, word counts, bigram terms."""
        return {
            "lm_texts": lru_stats(self.score),
            "lm_words": self._words.stats(),
            "lm_bigrams": self._terms.stats(),
        }

    def save(self, w: IndexWriter, labels: Iterable[str]) -> None:
        """The tries, counts and every label's score (in label id order)."""
        w.trie(LM_WORDS, self.words)
        w.array(f"{LM_WORDS}_counts", self.word_counts)
        w.trie(LM_BIGRAMS, self.bigrams)
        w.array(f"{LM_BIGRAMS}_counts", self.bigram_counts)
        w.array(LM_LABELS, np.array([self._score(q) for q in labels], dtype=np.float64))

    @classmethod
    def load(cls, files: IndexFiles, n_labels: int) -> WordLM:
        scores = np.asarray(files.array(LM_LABELS))
        if scores.shape != (n_labels,):
            raise IndexFormatError(
                f"{files.path}: {LM_LABELS} has {scores.shape[0]} scores for {n_labels} labels"
            )
        return cls(
            files.trie(LM_WORDS),
            np.asarray(files.array(f"{LM_WORDS}_counts")),
            files.trie(LM_BIGRAMS),
            np.asarray(files.array(f"{LM_BIGRAMS}_counts")),
            scores,
        )

    def of_candidates(self, labels: np.ndarray, texts: Sequence[str]) -> np.ndarray:
        """The scores of candidates by label id (-1: not a label) and text: the stored
        score of every label in one array read, the others computed (and memoised)."""
        out = np.empty(len(texts))
        is_label = labels >= 0
        if self.label_scores is not None:
            out[is_label] = self.label_scores[labels[is_label]]
        else:
            is_label[:] = False
        for i in np.flatnonzero(~is_label).tolist():
            out[i] = self.score(texts[i])
        return out
