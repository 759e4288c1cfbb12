"""The batched Newton-CG solvers reach the optimum a generic optimiser finds."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.optimize import minimize

from indexer.xmr.solver import objective, softmax_objective, train_block, train_block_softmax


def _problem(seed: int) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    m, d, b = 120, 12, 4
    x = sp.random(m, d, density=0.3, format="csr", random_state=seed)
    x = sp.hstack([x, np.ones((m, 1))], format="csr")
    mask = rng.random((m, b)) < 0.8
    w = rng.integers(1, 20, m).astype(float)  # merged duplicates: uneven row weights
    return x, mask, w


@pytest.mark.parametrize("loss", ["sqhinge", "logistic"])
def test_one_vs_rest_matches_lbfgs(loss: str) -> None:
    x, mask, rw = _problem(0)
    y = np.where(np.random.default_rng(1).random(mask.shape) < 0.3, 1.0, -1.0)
    w = train_block(x, y, rw, mask.astype(float), cost=1.0, loss=loss, newton_iters=15, cg_iters=30)
    d, b = x.shape[1], y.shape[1]

    def f(v: np.ndarray) -> float:
        return float(
            objective(x, y, rw, mask.astype(float), v.reshape(d, b), cost=1.0, loss=loss).sum()
        )

    ref = minimize(
        f, np.zeros(d * b), method="L-BFGS-B", options={"maxiter": 20000, "maxfun": 200000}
    )
    assert f(w.ravel()) <= ref.fun * (1 + 1e-3)


@pytest.mark.parametrize("null", [True, False])
def test_softmax_matches_lbfgs(null: bool) -> None:
    x, mask, rw = _problem(2)
    rng = np.random.default_rng(3)
    tgt = np.array([rng.choice(np.flatnonzero(r)) if r.any() else -1 for r in mask])
    if null:
        tgt[rng.random(len(tgt)) < 0.2] = -1  # matcher-aware negatives
    else:
        mask[tgt < 0] = True
        tgt[tgt < 0] = 0
    mask[np.flatnonzero(tgt >= 0), tgt[tgt >= 0]] = True
    w = train_block_softmax(x, tgt, rw, mask, cost=1.0, null=null, newton_iters=15, cg_iters=30)
    d, b = x.shape[1], mask.shape[1]

    def f(v: np.ndarray) -> float:
        return softmax_objective(x, tgt, rw, mask, v.reshape(d, b), cost=1.0, null=null)

    ref = minimize(
        f, np.zeros(d * b), method="L-BFGS-B", options={"maxiter": 20000, "maxfun": 200000}
    )
    assert f(w.ravel()) <= ref.fun * (1 + 1e-3)


def test_masked_children_get_no_gradient_from_masked_rows() -> None:
    x, mask, rw = _problem(4)
    mask[:, 3] = False  # child 3 is never a candidate: nothing may pull its weights
    tgt = np.array([int(np.flatnonzero(r)[0]) if r.any() else -1 for r in mask])
    w = train_block_softmax(x, tgt, rw, mask, cost=1.0)
    assert np.allclose(w[:, 3], 0.0)
