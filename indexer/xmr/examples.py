"""Training examples for the rankers: (session context, typed prefix) -> target label.

From each training (q_prev, q_next) pair, every proper prefix of q_next up to
`max_prefix_len` characters (plus one longer one, sampled) becomes an example; identical
(context, prefix, target) triples merge into one weighted example. The session context is
rebuilt from the pairs' order (`sessions.pairs` yields each session's queries in turn,
starting with q_prev == "").
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from .params import XMRParams

_MAX_CHAR = "\U0010ffff"


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


def build_examples(
    pairs: Iterable[tuple[str, str]], texts: Sequence[str], params: XMRParams
) -> RawExamples:
    """Sample prefixes, map targets to label ids (non-labels skipped), merge duplicates."""
    rng = np.random.default_rng(params.seed)
    label_id = {t: i for i, t in enumerate(texts)}
    counts: dict[tuple[tuple[str, ...], str, int], int] = {}
    cap = params.max_prefix_len
    for ctx, q in session_contexts(pairs, params.featurizer.context_window):
        t = label_id.get(q)
        if t is None or len(q) < 2:
            continue
        lengths = list(range(1, min(len(q) - 1, cap) + 1))
        if len(q) - 1 > cap:
            lengths.append(int(rng.integers(cap + 1, len(q))))
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
