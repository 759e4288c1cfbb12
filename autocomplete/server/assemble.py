"""What a reply holds: ranked items minus blocked and duplicate ones; recent searches.

Pure functions (no sockets, no store): the connection hands them the ranker call, the
blocklist test and the store's answers.

* `allowed_completions` keeps users at `k` items when a blocklist removes some: it asks the
  ranker for `k + EXTRA` and, if too few survive while the ranker had more, for `3k + EXTRA`.
  Without a blocklist it asks for exactly `k`, as before.
* `merge_fresh` adds queries submitted lately through the server (`autocomplete.fresh`).
* `recent_searches` answers an empty prefix (a focused, empty search box): the session's
  queries, newest first, then the user's personal history by last use, each query once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from functools import lru_cache

from autocomplete.model.memo import MemoStats, lru_stats
from autocomplete.ranking import Completion
from indexer.text import normalize_query
from session_store.base import HistoryEntry

#: Extra items asked of the ranker when a blocklist may drop some.
EXTRA = 10

Blocks = Callable[[str], bool]
#: Fresh-merge heuristic, pending learned blend weights for the fresh source: a fresh query
#: whose decayed count is at least PROMOTE_COUNT goes right after the first PROMOTE_AT
#: ranked items; a less counted one only fills room left when the ranker has fewer than k.
PROMOTE_COUNT = 3.0
PROMOTE_AT = 3
#: a reply's texts compared as normalised: the same popular texts come back keystroke after
#: keystroke, so their normal forms are remembered (bounded, least recently used out)
_normal = lru_cache(maxsize=1 << 14)(normalize_query)


def memo_stats() -> dict[str, MemoStats]:
    """The reply assembly's memo (normal forms of reply texts), for the server's metrics."""
    return {"reply_normal_forms": lru_stats(_normal)}


def unique(
    items: Iterable[Completion], blocks: Blocks | None = None, limit: int | None = None
) -> list[Completion]:
    """`items` in order, without blocked ones and without repeats of a normalised text; at
    most `limit` (the items past it are never tested against the blocklist)."""
    seen: set[str] = set()
    out: list[Completion] = []
    for item in items:
        if limit is not None and len(out) >= limit:
            break
        key = _normal(item.text)
        if key in seen or (blocks is not None and blocks(item.text)):
            continue
        seen.add(key)
        out.append(item)
    return out


def allowed_completions(
    rank: Callable[[int], list[Completion]], k: int, blocks: Blocks | None
) -> list[Completion]:
    """At most `k` unblocked, distinct items of `rank(n)` (the ranker asked for n items)."""
    if blocks is None:
        return unique(rank(k))[:k]
    kept: list[Completion] = []
    for want in (k + EXTRA, 3 * k + EXTRA):
        got = rank(want)
        kept = unique(got, blocks, k)
        if len(kept) >= k or len(got) < want:  # enough, or the ranker has no more
            break
    return kept[:k]


def merge_fresh(
    items: Sequence[Completion],
    fresh: Iterable[tuple[str, float]],
    k: int,
    blocks: Blocks | None = None,
) -> list[Completion]:
    """`items` (ranked, at most k) with fresh (query, decayed count) pairs, most counted
    first, merged in by the PROMOTE_* rule above; at most `k` items.

    A fresh query already among `items` (as any source) is left where the ranker put it.
    A fresh item carries the score of the item before it (0.0 when first), so scores stay
    best-first; its count is not on the ranker's scale.
    """
    fresh = list(fresh)
    if not fresh:  # most keystrokes: nothing fresh extends the prefix
        return list(items[:k])
    present = {_normal(c.text) for c in items}
    promoted: list[str] = []
    filler: list[str] = []
    for text, count in fresh:
        if text in present or (blocks is not None and blocks(text)):
            continue
        present.add(text)
        (promoted if count >= PROMOTE_COUNT else filler).append(text)
    out = list(items[:PROMOTE_AT])
    for text in promoted:
        out.append(Completion(text, out[-1].score if out else 0.0, "fresh"))
    out += items[PROMOTE_AT:]
    for text in filler[: max(0, k - len(out))]:
        out.append(Completion(text, out[-1].score if out else 0.0, "fresh"))
    return out[:k]


def recent_searches(
    recent: Sequence[str],
    history: Sequence[HistoryEntry],
    k: int,
    *,
    hidden: frozenset[str] | set[str] = frozenset(),
    blocks: Blocks | None = None,
) -> list[Completion]:
    """Up to `k` history items: `recent` (oldest first, as the store keeps them) newest
    first, then `history` entries by last use; `hidden` queries (forgotten) are left out.

    Scores fall with rank (1, 1/2, 1/3, ...): they order the list, nothing more.
    """
    texts = list(reversed(recent))
    texts += [e.query for e in sorted(history, key=lambda e: e.last_used, reverse=True)]
    items = (Completion(t, 0.0, "history") for t in texts if t not in hidden)
    kept = unique(items, blocks)[:k]
    return [c._replace(score=1.0 / (i + 1)) for i, c in enumerate(kept)]
