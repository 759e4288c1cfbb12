"""What strangers may see: k-anonymous shared tables and bounded user contributions.

A query log is the most private data a search service holds: a query typed once by one person
("jane doe 12 elm st lawyer") must never be suggested to anyone else. Every table the build
derives from the log and serves to everyone (labels, query endings, previous->next
transitions, and through them the typo vocabulary and the XR-Linear model) keeps only text
that at least K distinct users issued in the training period (`min_users`). Popularity counts
are bounded per user, so one person (or one script) cannot make a query popular alone: a query
counts at most `max_repeats_per_day` times per user per (UTC) day, and each user contributes at
most `max_queries_per_day` distinct queries a day (the first ones they issued).

A user's own history is not limited by K: it is served only to that user, from the session
store, never from the index.

Pure functions over the `(q_prev, q_next, user, time)` pairs of `sessions.pairs`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence, Set
from dataclasses import asdict, dataclass
from typing import Any

from .counts import TABLES, Pair, TrainCounts
from .tables import transition_key

_DAY_S = 86400


@dataclass(frozen=True)
class KAnonParams:
    """Who must have issued a text before strangers see it, and how much one user counts.

    min_users: K; a query, query ending or previous->next pair is shown to others only when at
        least this many distinct users issued it in the training period (>= 1; 1 = every
        training query, as a research index). Default 2.
    max_repeats_per_day: a query counts at most this many times per user per UTC day
        (>= 0; 0 = no bound). Default 1: popularity is the number of user-days that issued it.
    max_queries_per_day: a user contributes at most this many distinct queries per UTC day,
        the first they issued; later ones that day count for nothing (>= 0; 0 = no bound).
        Default 20: 99% of the user-days in the shared AOL log's training part hold at most
        17, and the bound drops 0.5% of the (user, day, query) contributions.

    `KAnonParams.off()` (1, 0, 0) filters and bounds nothing: the index of a build without
    this step.
    """

    min_users: int = 2
    max_repeats_per_day: int = 1
    max_queries_per_day: int = 20

    def __post_init__(self) -> None:
        if self.min_users < 1:
            raise ValueError(f"min_users must be >= 1, got {self.min_users}")
        if self.max_repeats_per_day < 0:
            raise ValueError(
                f"max_repeats_per_day must be >= 0 (0 = no bound), got {self.max_repeats_per_day}"
            )
        if self.max_queries_per_day < 0:
            raise ValueError(
                f"max_queries_per_day must be >= 0 (0 = no bound), got {self.max_queries_per_day}"
            )

    @classmethod
    def off(cls) -> KAnonParams:
        """No threshold, no bounds: every training query is shared, counted as often as issued."""
        return cls(min_users=1, max_repeats_per_day=0, max_queries_per_day=0)

    @property
    def bounded(self) -> bool:
        return bool(self.max_repeats_per_day or self.max_queries_per_day)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, d: Mapping[str, Any] | None) -> KAnonParams:
        """`None` (a manifest written before this step existed) reads as `off()`: such an
        index was built from every training query, unbounded."""
        if d is None:
            return cls.off()
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in d.items() if k in known})


def bound_contributions(pairs: Iterable[Pair], params: KAnonParams) -> list[Pair]:
    """The pairs that count, in their order: per user and UTC day, the first
    `max_queries_per_day` distinct queries, each at most `max_repeats_per_day` times.

    Pairs must come in time order within a user, as `sessions.pairs` yields them. A dropped
    pair drops its query event whole: it adds to no table, and not to the model's examples.
    """
    pairs = list(pairs)
    if not params.bounded:
        return pairs
    return [pair for pair, kept in zip(pairs, counted_mask(pairs, params), strict=True) if kept]


def counted_mask(pairs: Iterable[Pair], params: KAnonParams) -> Iterator[bool]:
    """For each pair, whether it counts (`bound_contributions`); the streaming build keeps
    each pair's place in the log beside it, so it needs the decision, not the subset."""
    if not params.bounded:
        yield from (True for _ in pairs)
        return
    per_day, per_query = params.max_queries_per_day, params.max_repeats_per_day
    days: dict[tuple[str, int], dict[str, int]] = {}
    for _, q, user, t in pairs:
        day = days.setdefault((user, int(t // _DAY_S)), {})
        n = day.get(q, 0)
        if n == 0 and per_day and len(day) >= per_day:
            yield False
        elif per_query and n >= per_query:
            yield False
        else:
            day[q] = n + 1
            yield True


@dataclass(frozen=True)
class SharedTexts:
    """The texts of a build that strangers may see, per table, and how many there were.

    queries / endings / transitions: the shown keys (transitions as `tables.transition_key`);
        None when every key is shown (K = 1).
    distinct: how many distinct keys the bounded log held per table, shown or not.
    """

    min_users: int
    queries: Set[str] | None
    endings: Set[str] | None
    transitions: Set[str] | None
    distinct: Mapping[str, int]

    def shows_query(self, q: str) -> bool:
        return self.queries is None or q in self.queries

    def shown_counts(self, counts: Mapping[str, int]) -> Mapping[str, int]:
        """`counts` (e.g. folded fresh counts, which name no user) restricted to shown queries:
        they may add to a shared query's popularity, never make a new one."""
        if self.queries is None:
            return counts
        return {q: n for q, n in counts.items() if q in self.queries}

    def shown_prev(self, prev: str, q: str) -> str:
        """`prev` where q_prev -> q_next is shown (or there is no q_prev), else "": the query
        still counts, as a session's first query does, but nothing learns what came before."""
        if not prev or self.transitions is None or transition_key(prev, q) in self.transitions:
            return prev
        return ""

    def hide_transitions(self, pairs: Sequence[Pair]) -> list[Pair]:
        """The pairs with q_prev blanked where (q_prev, q_next) is not shown (`shown_prev`).
        With K = 1, the pairs unchanged."""
        if self.transitions is None:
            return list(pairs)
        return [(self.shown_prev(p, q), q, user, t) for p, q, user, t in pairs]


@dataclass(frozen=True)
class SharedCounts:
    """What a build shows strangers (`texts`) and the counts of just that: all the tables,
    the model's label transitions and the manifest's statistics need of the log.

    logged / counted: training pairs before and after the per-user bounds.
    queries / endings / transitions: the bounded counts of the shown keys (every key at
        K = 1); `texts` holds the same keys.
    words / bigrams: the word model's shown words and word pairs with their counts.
    """

    texts: SharedTexts
    logged: int
    counted: int
    queries: Mapping[str, int]
    endings: Mapping[str, int]
    transitions: Mapping[str, int]
    words: Mapping[str, int]
    bigrams: Mapping[str, int]

    @classmethod
    def of(
        cls,
        min_users: int,
        logged: int,
        counted: int,
        shown: Mapping[str, Mapping[str, int]],
        distinct: Mapping[str, int],
    ) -> SharedCounts:
        """From the shown keys' counts per table (`TABLES`) and how many distinct keys each
        table had."""
        q, e, t = shown["queries"], shown["endings"], shown["transitions"]
        every = min_users <= 1
        texts = SharedTexts(
            min_users,
            None if every else q.keys(),
            None if every else e.keys(),
            None if every else t.keys(),
            dict(distinct),
        )
        return cls(texts, logged, counted, q, e, t, shown["words"], shown["bigrams"])


def shared_counts(counts: TrainCounts, min_users: int) -> SharedCounts:
    """The keys of `counts` at least `min_users` distinct users issued, with their counts."""
    shown: dict[str, dict[str, int]] = {}
    distinct: dict[str, int] = {}
    for name in TABLES:
        count, users = counts.table(name)
        shown[name] = {k: count[k] for k, n in users.items() if n >= min_users}
        distinct[name] = len(users)
    return SharedCounts.of(min_users, counts.logged, counts.counted, shown, distinct)


def shared_texts(pairs: Sequence[Pair], min_users: int) -> SharedTexts:
    """Which queries, endings and transitions of `pairs` at least `min_users` distinct users
    issued. Pairs are the bounded ones (`bound_contributions`)."""
    return shared_counts(TrainCounts.of(len(pairs), pairs), min_users).texts


def kanon_summary(shared: SharedCounts) -> str:
    """The build's k-anonymity line: queries counted of logged, and how many are shared."""
    texts = shared.texts
    return (
        f"{shared.counted} of {shared.logged} training queries counted; "
        f"{'every query' if texts.queries is None else len(texts.queries)} shared "
        f"(>= {texts.min_users} users each)"
    )


def kanon_stats(
    shared: SharedCounts,
    labels: Set[str],
    *,
    endings: int,
    transitions: int,
) -> dict[str, Any]:
    """For the manifest: the queries logged and counted (after the bounds), per table the
    distinct texts kept and dropped, and the share of counted queries that are labels.
    (A label is a shown query, or at K = 1 a fresh one the log never held.)"""
    d = shared.texts.distinct
    from_log = shared.queries.keys()
    return {
        "min_users": shared.texts.min_users,
        "logged_queries": shared.logged,
        "counted_queries": shared.counted,
        "labels_kept": len(labels),
        "labels_dropped": d["queries"] - len(labels & from_log),
        "endings_kept": endings,
        "endings_dropped": d["endings"] - endings,
        "transitions_kept": transitions,
        "transitions_dropped": d["transitions"] - transitions,
        "train_label_coverage": (
            sum(n for q, n in shared.queries.items() if q in labels) / shared.counted
        )
        if shared.counted
        else None,
    }
