"""What the shared tables need from the training pairs: counts that add up across users.

Every table the build serves to strangers (labels, endings, transitions, the XR-Linear
model's label transitions) and every k-anonymity decision is a function of a few counts over
the bounded training pairs: how often each query, word ending and previous->next transition
counts, and how many distinct users issued each. None of them needs the pairs themselves,
and all of them add up across *disjoint sets of users*: a user's pairs are all counted in
one `TrainCounts`, so the distinct users of a key in the whole log are the sum of its
distinct users in each part. That is what lets the streaming build (`indexer.stream`) count
a log bucket by bucket of users and add the buckets' counts up on disk, key by key
(`stream.shards`), and get the very numbers the in-memory build gets from the whole list.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from autocomplete.model.labels import SEP, transition_key
from autocomplete.model.wordlm import count as lm_count
from autocomplete.model.wordlm import tokens

from .tables import word_endings

#: (q_prev, q_next, user, time), as `sessions.pairs` yields them
Pair = tuple[str, str, str, float]
#: the keyed counts every build adds up and shows only at K distinct users
TABLES = ("queries", "endings", "transitions", "words", "bigrams")


def users_per_key(keyed: Iterable[tuple[str, str]]) -> Counter[str]:
    """How many distinct users each key has, from (key, user) items."""
    return Counter(key for key, _ in set(keyed))


@dataclass
class TrainCounts:
    """Counts over a set of bounded training pairs (`kanon.bound_contributions`).

    logged: pairs before the per-user bounds; counted: after them.
    queries: how often each query counts (after the bounds).
    endings: how often each word ending (`tables.word_endings`) counts: the sum of the
        counts of the queries that end with it.
    transitions: how often each `transition_key(q_prev, q_next)` counts, for pairs with a
        q_prev (a session's first query has none).
    query_users / ending_users / transition_users: distinct users per query, per word ending
        (`tables.word_endings`) and per transition.
    words / bigrams: how often each word and each "a b" word pair of the queries, with the
        query's start and end as tokens, counts (`autocomplete.model.wordlm.count`), and
        word_users / bigram_users: distinct users per word and per pair (the word model).
    """

    logged: int = 0
    counted: int = 0
    queries: Counter[str] = field(default_factory=Counter)
    endings: Counter[str] = field(default_factory=Counter)
    transitions: Counter[str] = field(default_factory=Counter)
    query_users: Counter[str] = field(default_factory=Counter)
    ending_users: Counter[str] = field(default_factory=Counter)
    transition_users: Counter[str] = field(default_factory=Counter)
    words: Counter[str] = field(default_factory=Counter)
    bigrams: Counter[str] = field(default_factory=Counter)
    word_users: Counter[str] = field(default_factory=Counter)
    bigram_users: Counter[str] = field(default_factory=Counter)

    def table(self, name: str) -> tuple[Counter[str], Counter[str]]:
        """One of `TABLES`: how often each key counts, and its distinct users."""
        return {
            "queries": (self.queries, self.query_users),
            "endings": (self.endings, self.ending_users),
            "transitions": (self.transitions, self.transition_users),
            "words": (self.words, self.word_users),
            "bigrams": (self.bigrams, self.bigram_users),
        }[name]

    @classmethod
    def of(cls, logged: int, pairs: Sequence[Pair]) -> TrainCounts:
        """The counts of the bounded `pairs`; `logged`: how many there were before the bounds."""
        query_users = {(q, user) for _, q, user, _ in pairs}
        keyed = [(transition_key(p, q), user) for p, q, user, _ in pairs if p and p != q]
        queries = Counter(q for _, q, _, _ in pairs)
        endings: Counter[str] = Counter()
        for q, n in queries.items():
            for e in word_endings(q):
                endings[e] += n
        words, bigrams = lm_count(queries.items())
        word_users: set[tuple[str, str]] = set()
        bigram_users: set[tuple[str, str]] = set()
        for q, user in query_users:
            t = tokens(q)
            word_users.update((w, user) for w in t)
            bigram_users.update((f"{a} {b}", user) for a, b in zip(t, t[1:], strict=False))
        return cls(
            logged=logged,
            counted=len(pairs),
            queries=queries,
            endings=endings,
            transitions=Counter(k for k, _ in keyed),
            query_users=users_per_key(query_users),
            ending_users=users_per_key(
                (e, user) for q, user in query_users for e in word_endings(q)
            ),
            transition_users=users_per_key(keyed),
            words=words,
            bigrams=bigrams,
            word_users=users_per_key(word_users),
            bigram_users=users_per_key(bigram_users),
        )


def label_transitions(transitions: Mapping[str, int], texts: Sequence[str]) -> sp.csr_matrix:
    """counts[prev label, next label] from the shown transitions' counts, as
    `indexer.xmr.build.transitions` computes them from the pairs with hidden transitions
    blanked (float32, canonical CSR)."""
    label_id = {t: i for i, t in enumerate(texts)}
    rows, cols, vals = [], [], []
    for key in transitions:
        prev, q = key.split(SEP, 1)
        a, b = label_id.get(prev), label_id.get(q)
        if a is not None and b is not None:
            rows.append(a)
            cols.append(b)
            vals.append(transitions[key])
    n = len(texts)
    m = sp.csr_matrix((np.asarray(vals, dtype=np.float32), (rows, cols)), shape=(n, n))
    m.sum_duplicates()
    return m
