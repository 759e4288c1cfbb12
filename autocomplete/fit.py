"""Fit the blend weights on the dev split: listwise softmax regression, one fit per bucket.

For each dev keystroke whose true next query is among the candidates, maximise its softmax
probability against the other candidates (a listwise learning-to-rank loss) with L2
regularisation, by L-BFGS on the exact gradient, from all-zero weights (the loss is convex).
Vectorised over all keystrokes at once. `build_full` (`autocomplete.build`) runs it when an
index is built and stores the result in it (`autocomplete.model.weights.BlendWeights`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.optimize import minimize
from threadpoolctl import threadpool_limits

from autocomplete.model.buckets import NAMES, bucket_index
from autocomplete.model.learned import LearnedRanking
from autocomplete.model.weights import BlendWeights
from indexer.sessions import Example

from .candidates.schema import FEATURES, NF, CandidateSet
from .fit_trees import Lists, TreeParams, add_list, fit_learned
from .ranking import Context

Gather = Callable[[Context, str], CandidateSet]
Keystrokes = Iterable[tuple[Example, Context]]


@dataclass(frozen=True)
class FitParams:
    """every: use every n-th dev keystroke; l2: ridge strength per keystroke; max_iter: of
    L-BFGS per bucket; trees: the learned ranker (`autocomplete.fit_trees`), or None.

    l2 was 1e-3 until measured: on dev keystrokes the fit does not see (n % 8 == 3), 1e-4,
    1e-5 and 0 each beat it in every bucket, in both modes (personal MRR@10 0.3629 -> 0.3646,
    0.3653, 0.3656). 1e-5 keeps a little ridge so collinear features stay bounded.

    Choosing l2 per bucket by held-out likelihood (grid 1e-1 .. 1e-5) was tried and dropped:
    it picked 1e-5 in 11 of 12 buckets on the full log (dev MRR@10 unchanged to 4 decimals),
    on the bundled sample's test split it tied 1e-5 (personal 0.3061 vs 0.3062), and the
    grid nearly doubled the fit time (106 s vs ~60 s). every=4 instead of 8 moved dev MRR
    between buckets (+0.4% at 2 characters, -0.3% at 1, overall unchanged) for 1.6x the time.
    """

    every: int = 8
    l2: float = 1e-5
    max_iter: int = 300
    #: the learned ranker's trees over the linear blend; None fits the linear blend only
    trees: TreeParams | None = TreeParams()


@dataclass
class BucketData:
    """One bucket's dev keystrokes: candidate matrices, the target's row in each, and (for
    the learned ranker's trees) each keystroke's prefix length and whether it began the
    session's first query."""

    xs: list[np.ndarray]
    targets: list[int]
    lengths: list[int] = field(default_factory=list)
    first: list[bool] = field(default_factory=list)


def collect(
    keystrokes: Keystrokes, gather: Gather, every: int
) -> tuple[list[BucketData], dict[str, Any]]:
    """Candidate matrices and target positions per bucket; also counts of target recall."""
    data = [BucketData([], []) for _ in NAMES]
    stats: dict[str, Any] = {"keystrokes": 0, "target_in_candidates": 0}
    for n, (ex, ctx) in enumerate(keystrokes):
        if n % every:
            continue
        cs = gather(ctx, ex.prefix)
        stats["keystrokes"] += 1
        row = cs.index(ex.target)
        if row is None:
            continue
        stats["target_in_candidates"] += 1
        d = data[bucket_index(len(ex.prefix))]
        d.xs.append(cs.matrix().copy())
        d.targets.append(row)
        d.lengths.append(len(ex.prefix))
        d.first.append(not ctx.previous)
    return data, stats


def fit_bucket(d: BucketData, params: FitParams) -> np.ndarray:
    """The weights of one bucket (zeros when it has no keystroke)."""
    w0 = np.zeros(NF)
    if not d.xs:
        return w0
    x = np.vstack(d.xs)
    sizes = np.array([m.shape[0] for m in d.xs])
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    tgt_rows = starts + np.asarray(d.targets)
    group = np.repeat(np.arange(len(sizes)), sizes)
    n = len(sizes)

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        s = x @ w
        mx = np.maximum.reduceat(s, starts)
        e = np.exp(s - mx[group])
        z = np.add.reduceat(e, starts)
        lse = np.log(z) + mx
        nll = float(np.sum(lse - s[tgt_rows])) / n
        p = e / z[group]
        g = x.T @ p
        g -= x[tgt_rows].sum(axis=0)
        g /= n
        return nll + params.l2 * float(w @ w), g + 2 * params.l2 * w

    res = minimize(loss, w0, jac=True, method="L-BFGS-B", options={"maxiter": params.max_iter})
    return np.asarray(res.x)


def fit_mode(
    keystrokes: Keystrokes, gather: Gather, params: FitParams
) -> tuple[np.ndarray, dict[str, Any], list[BucketData]]:
    """One weight matrix (bucket x feature) fitted on the given keystrokes; also the data."""
    data, stats = collect(keystrokes, gather, params.every)
    w = np.zeros((len(NAMES), NF))
    for i, b in enumerate(NAMES):
        w[i] = fit_bucket(data[i], params)
        stats[f"fit_{b}"] = len(data[i].xs)
    return w, stats, data


@dataclass(frozen=True)
class Fitted:
    """What the dev split taught: the linear blend, the learned trees over it (None when
    not asked for), and each mode's statistics."""

    weights: BlendWeights
    learned: LearnedRanking | None
    stats: dict[str, dict[str, Any]]


def fit(
    personal: Keystrokes,
    anonymous: Keystrokes,
    gather: Gather,
    params: FitParams | None = None,
    fitted: Callable[[str], None] | None = None,
) -> Fitted:
    """Both modes: "personal" on keystrokes with the user's history, "anonymous" without.
    With `params.trees`, the learned ranker's trees are fitted on the same keystrokes over
    each mode's linear blend. `fitted` is called with each mode's name once its model is
    done (for progress).

    BLAS runs on one thread meanwhile: the loss is two matrix-vector products over ~10^4-10^5
    candidate rows per L-BFGS step, and OpenBLAS threading them made the weights' fit 2.6x
    slower on 2 cores and the default build 159 s instead of 122 s (bench/README.md "Build
    time"). LightGBM's own threads (`TreeParams.threads`) are not BLAS and keep their count."""
    params = params or FitParams()
    with threadpool_limits(limits=1, user_api="blas"):
        return _fit(personal, anonymous, gather, params, fitted)


def _fit(
    personal: Keystrokes,
    anonymous: Keystrokes,
    gather: Gather,
    params: FitParams,
    fitted: Callable[[str], None] | None,
) -> Fitted:
    done = fitted or (lambda _mode: None)
    weights: dict[str, np.ndarray] = {}
    stats: dict[str, dict[str, Any]] = {}
    lists: dict[str, Lists] = {}
    for mode, stream in (("personal", personal), ("anonymous", anonymous)):
        w, st, data = fit_mode(stream, gather, params)
        weights[mode], stats[mode] = w, st
        if params.trees is not None:
            lists[mode] = lists_of(data, w)
        done(mode)
    learned = None
    if params.trees is not None:
        learned, tree_stats = fit_learned(lists, params.trees)
        for mode, st in tree_stats.items():
            stats[mode]["trees"] = st
    return Fitted(BlendWeights(FEATURES, weights), learned, stats)


def lists_of(data: list[BucketData], w: np.ndarray) -> Lists:
    """Every bucket's keystrokes as the trees' ranking lists."""
    lists = Lists.empty()
    for d in data:
        for x, target, n, first in zip(d.xs, d.targets, d.lengths, d.first, strict=True):
            add_list(lists, x, target, w, n, first)
    return lists
