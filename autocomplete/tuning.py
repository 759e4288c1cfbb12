"""Fit the blend weights on the dev split: listwise softmax regression, one fit per bucket.

For each dev keystroke whose true next query is among the candidates, maximise its softmax
probability against the other candidates (a listwise learning-to-rank loss) with L2
regularisation, by L-BFGS on the exact gradient. Vectorised over all keystrokes at once.

The ridge strength is chosen per bucket by held-out likelihood: the right amount depends on
how many keystrokes the log gives a bucket (the full dev split wants almost none; the bundled
sample, a few hundred keystrokes, overfits without it), so no single constant serves both.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize

from indexer.metrics import bucket_of
from indexer.sessions import Example

from .blend import BUCKET_NAMES, BlendWeights
from .candidates import NF, CandidateSet
from .personal import HistoryItems

Gather = Callable[[Example, HistoryItems], CandidateSet]


@dataclass(frozen=True)
class TuneParams:
    """every: use every n-th dev keystroke; l2_grid: ridge strengths (per keystroke) tried;
    holdout: every holdout-th fitted keystroke of a bucket scores the candidates of l2_grid.

    A fixed l2 of 1e-3 lost on the full dev split to 1e-4, 1e-5 and 0 in every bucket (dev
    keystrokes the fit does not see, n % 8 == 3: personal MRR@10 0.3629 -> 0.3646, 0.3653,
    0.3656), while 1e-5 on the bundled sample let a misspelling's tail completions bury its
    correction: hence the choice by validation. The grid stops at 1e-5 so collinear features
    stay bounded; a single value skips validation.
    """

    every: int = 8
    l2_grid: tuple[float, ...] = (1e-1, 1e-2, 1e-3, 1e-4, 1e-5)
    holdout: int = 4
    max_iter: int = 300


@dataclass
class _Data:
    xs: list[np.ndarray]
    targets: list[int]


def collect(
    examples: Iterable[tuple[Example, HistoryItems]], gather: Gather, every: int
) -> tuple[dict[str, _Data], dict[str, float]]:
    """Candidate matrices and target positions per bucket; also counts of target recall."""
    data = {b: _Data([], []) for b in BUCKET_NAMES}
    stats: dict[str, float] = {"keystrokes": 0, "target_in_candidates": 0}
    for n, (ex, hist) in enumerate(examples):
        if n % every:
            continue
        cs = gather(ex, hist)
        stats["keystrokes"] += 1
        if ex.target not in cs:
            continue
        stats["target_in_candidates"] += 1
        d = data[bucket_of(len(ex.prefix))]
        d.xs.append(cs.matrix())
        d.targets.append(cs.texts.index(ex.target))
    return data, stats


@dataclass(frozen=True)
class _Stacked:
    """A bucket's candidate rows stacked once, with what the listwise loss needs to group them."""

    x: np.ndarray
    starts: np.ndarray
    tgt_rows: np.ndarray
    group: np.ndarray

    @classmethod
    def of(cls, xs: list[np.ndarray], targets: list[int]) -> _Stacked:
        sizes = np.array([m.shape[0] for m in xs])
        starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        return cls(
            np.vstack(xs),
            starts,
            starts + np.asarray(targets),
            np.repeat(np.arange(len(sizes)), sizes),
        )

    def nll(self, w: np.ndarray) -> tuple[float, np.ndarray]:
        """Mean negative log softmax probability of the targets, and its gradient."""
        s = self.x @ w
        mx = np.maximum.reduceat(s, self.starts)
        e = np.exp(s - mx[self.group])
        z = np.add.reduceat(e, self.starts)
        n = len(self.starts)
        nll = float(np.sum(np.log(z) + mx - s[self.tgt_rows])) / n
        g = self.x.T @ (e / z[self.group])
        g -= self.x[self.tgt_rows].sum(axis=0)
        return nll, g / n


def _minimise(d: _Stacked, l2: float, w0: np.ndarray, max_iter: int) -> np.ndarray:
    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        nll, g = d.nll(w)
        return nll + l2 * float(w @ w), g + 2 * l2 * w

    res = minimize(loss, w0, jac=True, method="L-BFGS-B", options={"maxiter": max_iter})
    return np.asarray(res.x)


def choose_l2(d: _Data, params: TuneParams, w0: np.ndarray) -> float:
    """The l2 of params.l2_grid whose fit on most keystrokes best predicts the held-out rest.

    Strongest ridge first, each fit warm-started from the previous one (a regularisation
    path), so the whole grid costs little more than one fit.
    """
    grid = sorted(params.l2_grid, reverse=True)
    n = len(d.xs)
    val = [i for i in range(n) if i % params.holdout == params.holdout - 1]
    if len(grid) == 1 or not val:
        return grid[0] if grid else 0.0
    trn = [i for i in range(n) if i % params.holdout != params.holdout - 1]
    fit_on = _Stacked.of([d.xs[i] for i in trn], [d.targets[i] for i in trn])
    check = _Stacked.of([d.xs[i] for i in val], [d.targets[i] for i in val])
    best, best_nll, w = grid[0], np.inf, w0
    for l2 in grid:
        w = _minimise(fit_on, l2, w, params.max_iter)
        nll = check.nll(w)[0]
        if nll < best_nll:
            best, best_nll = l2, nll
    return best


def fit_bucket(d: _Data, params: TuneParams, w0: np.ndarray) -> tuple[np.ndarray, float]:
    """Weights fitted on all of the bucket's keystrokes, with the ridge choose_l2 picked."""
    if not d.xs:
        return w0, 0.0
    l2 = choose_l2(d, params, w0)
    return _minimise(_Stacked.of(d.xs, d.targets), l2, w0, params.max_iter), l2


def fit_mode(
    examples: Iterable[tuple[Example, HistoryItems]],
    gather: Gather,
    params: TuneParams | None = None,
    start: np.ndarray | None = None,
) -> tuple[np.ndarray, dict[str, float]]:
    """One weight matrix (bucket x feature) fitted on the given keystrokes."""
    params = params or TuneParams()
    data, stats = collect(examples, gather, params.every)
    w = start.copy() if start is not None else BlendWeights.default().matrix("personal")
    for i, b in enumerate(BUCKET_NAMES):
        w[i], l2 = fit_bucket(data[b], params, w[i])
        stats[f"fit_{b}"] = len(data[b].xs)
        stats[f"l2_{b}"] = l2
    assert w.shape[1] == NF
    return w, stats


def fit(
    with_history: Callable[[], Iterable[tuple[Example, HistoryItems]]],
    gather: Gather,
    params: TuneParams | None = None,
) -> tuple[BlendWeights, dict[str, dict[str, float]]]:
    """Both modes: "personal" on keystrokes with the user's history, "anonymous" without.

    `with_history` is called twice (a fresh stream each time).
    """
    wp, sp = fit_mode(with_history(), gather, params)
    wa, sa = fit_mode(((ex, ()) for ex, _ in with_history()), gather, params)
    return (
        BlendWeights({"personal": BlendWeights.rows(wp), "anonymous": BlendWeights.rows(wa)}),
        {"personal": sp, "anonymous": sa},
    )
