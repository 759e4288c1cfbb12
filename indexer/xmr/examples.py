"""Training examples for the rankers: (session context, typed prefix) -> target label.

From each training (q_prev, q_next) pair, every proper prefix of q_next up to
`max_prefix_len` characters (plus one longer one, sampled) becomes an example; identical
(context, prefix, target) triples merge into one weighted example. The session context is
rebuilt from the pairs' order (`sessions.pairs` yields each session's queries in turn,
starting with q_prev == "").

The longer prefix is drawn by a counter-based hash of (seed, the pair's position in the
whole stream), not by one generator walking the stream: any subset of the pairs (a branch
of the partitioned build, `indexer.xmr.partition`) gets the very examples the whole stream
gives it.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from .params import XMRParams

_MAX_CHAR = "\U0010ffff"
_M64 = (1 << 64) - 1

#: (position in the pair stream, session context, q_next)
Item = tuple[int, tuple[str, ...], str]


@dataclass(frozen=True)
class RawExamples:
    """Deduplicated examples as parallel sequences (weights = how often each occurred)."""

    contexts: list[tuple[str, ...]]
    prefixes: list[str]
    targets: np.ndarray  # int32 label ids
    weights: np.ndarray  # float32
    lo: np.ndarray  # int64: label ids extending the prefix are [lo, hi)
    hi: np.ndarray

    def __len__(self) -> int:
        return len(self.prefixes)


def prefix_range(texts: Sequence[str], prefix: str) -> tuple[int, int]:
    lo = bisect.bisect_left(texts, prefix)
    return lo, bisect.bisect_left(texts, prefix + _MAX_CHAR, lo)


def session_contexts(
    pairs: Iterable[tuple[str, str]], window: int
) -> Iterable[tuple[tuple[str, ...], str]]:
    """(context, q_next) per pair; context = up to `window` previous queries, most recent last."""
    ctx: list[str] = []
    for prev, q in pairs:
        if not prev:
            ctx = []
        else:
            if not ctx or ctx[-1] != prev:
                ctx.append(prev)
            if len(ctx) > window:
                del ctx[0]
        yield tuple(ctx), q


def _mix(x: int) -> int:
    """splitmix64's finaliser: a well-spread 64-bit hash of a 64-bit integer."""
    x = (x + 0x9E3779B97F4A7C15) & _M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _M64
    return x ^ (x >> 31)


def sampled_length(seed: int, pos: int, lo: int, hi: int) -> int:
    """A length in [lo, hi), a function of (seed, pos) alone."""
    return lo + _mix(_mix(seed & _M64) ^ pos) % (hi - lo)


def numbered_contexts(pairs: Iterable[tuple[str, str]], window: int) -> Iterator[Item]:
    """(position, context, q_next) for every pair, positions counting every pair from 0."""
    for pos, (ctx, q) in enumerate(session_contexts(pairs, window)):
        yield pos, ctx, q


def build_examples(
    pairs: Iterable[tuple[str, str]], texts: Sequence[str], params: XMRParams
) -> RawExamples:
    """Sample prefixes, map targets to label ids (non-labels skipped), merge duplicates."""
    return examples_from(numbered_contexts(pairs, params.featurizer.context_window), texts, params)


def examples_from(items: Iterable[Item], texts: Sequence[str], params: XMRParams) -> RawExamples:
    """`build_examples` over numbered (position, context, q_next) items, in stream order;
    `texts` may be any contiguous run of the sorted labels (ids are then local to it)."""
    label_id = {t: i for i, t in enumerate(texts)}
    counts: dict[tuple[tuple[str, ...], str, int], int] = {}
    cap = params.max_prefix_len
    for pos, ctx, q in items:
        t = label_id.get(q)
        if t is None or len(q) < 2:
            continue
        lengths = list(range(1, min(len(q) - 1, cap) + 1))
        if len(q) - 1 > cap:
            lengths.append(sampled_length(params.seed, pos, cap + 1, len(q)))
        for n in lengths:
            key = (ctx, q[:n], t)
            counts[key] = counts.get(key, 0) + 1
    contexts = [k[0] for k in counts]
    prefixes = [k[1] for k in counts]
    targets = np.fromiter((k[2] for k in counts), dtype=np.int32, count=len(counts))
    weights = np.fromiter(counts.values(), dtype=np.float32, count=len(counts))
    ranges: dict[str, tuple[int, int]] = {}
    lo = np.empty(len(prefixes), dtype=np.int64)
    hi = np.empty(len(prefixes), dtype=np.int64)
    for i, p in enumerate(prefixes):
        r = ranges.get(p)
        if r is None:
            r = ranges[p] = prefix_range(texts, p)
        lo[i], hi[i] = r
    return RawExamples(contexts, prefixes, targets, weights, lo, hi)
