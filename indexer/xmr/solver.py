"""Batched primal Newton-CG for many L2-regularised binary linear classifiers at once.

One tree node's children are one-vs-rest classifiers over the same rows (the examples routed
to the node), so we solve them together: weights are a dense (d x B) block over the node's
active features and every step is a sparse x dense product over all B columns, never a
per-example or per-column Python loop. Per column j:

    min_w  1/2 |w|^2 + C * sum_i c_i m_ij loss(y_ij, x_i . w)

with row weights c (duplicate examples merged) and an entry mask m (0 where a child is not a
candidate for that example: the typed prefix already excludes it). Losses: squared hinge
(L2-loss SVM, liblinear's and PECOS's default) or logistic. Each Newton step solves the
(generalised) Hessian system with a few CG iterations, then a backtracking (Armijo) line
search along the step keeps the objective decreasing (a full Newton step can overshoot
badly where the loss saturates, e.g. heavily weighted rows).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import numpy as np
import scipy.sparse as sp


def _loss_terms(
    loss: str, y: np.ndarray, z: np.ndarray, cm: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """d(loss)/dz and d2(loss)/dz2, times the entry weights cm, elementwise."""
    if loss == "sqhinge":
        active = (y * z) < 1.0
        d = 2.0 * cm * active
        return d * (z - y), d
    # logistic: loss = log(1 + exp(-y z))
    s = 0.5 * (1.0 + np.tanh(0.5 * y * z))  # sigmoid(y z), overflow-free
    return cm * (s - 1.0) * y, cm * s * (1.0 - s)


def _loss_value(loss: str, y: np.ndarray, z: np.ndarray, cm: np.ndarray) -> np.ndarray:
    if loss == "sqhinge":
        return (cm * np.maximum(0.0, 1.0 - y * z) ** 2).sum(axis=0)
    return (cm * np.logaddexp(0.0, -y * z)).sum(axis=0)


def _backtrack(phi: Callable[[float], float], slope: float, shrink: float = 0.5) -> float:
    """Largest t in 1, 1/2, 1/4, ... with phi(t) <= phi(0) + 1e-4 * t * slope (Armijo)."""
    f0 = phi(0.0)
    t = 1.0
    for _ in range(30):
        if phi(t) <= f0 + 1e-4 * t * slope:
            return t
        t *= shrink
    return 0.0


def train_block(
    x: sp.csr_matrix,
    y: np.ndarray,
    row_weight: np.ndarray,
    mask: np.ndarray | None,
    *,
    cost: float,
    loss: str = "sqhinge",
    newton_iters: int = 6,
    cg_iters: int = 12,
    tol: float = 1e-3,
) -> np.ndarray:
    """Weights (d x B, float64) of B binary classifiers on the rows of `x` (m x d).

    y: (m, B) in {-1, +1}; row_weight: (m,) >= 0; mask: (m, B) in {0, 1} or None (all 1).
    """
    m, d = x.shape
    b = y.shape[1]
    y = y.astype(np.float64, copy=False)
    cm = cost * row_weight.astype(np.float64)[:, None]
    if mask is not None:
        cm = cm * mask
    cm = np.ascontiguousarray(np.broadcast_to(cm, (m, b)))
    xt = x.T.tocsr()
    w = np.zeros((d, b), dtype=np.float64)
    z = np.zeros((m, b), dtype=np.float64)
    g0 = None
    for _ in range(newton_iters):
        dz, h = _loss_terms(loss, y, z, cm)
        g = w + xt @ dz
        gn = np.sqrt((g * g).sum(axis=0))
        if g0 is None:
            g0 = np.maximum(gn, 1e-12)
        live = gn > tol * g0
        if not live.any():
            break
        # CG on (I + X^T H X) s = -g, all columns together; finished columns get alpha = 0
        s = np.zeros_like(w)
        r = -g
        r[:, ~live] = 0.0
        p = r.copy()
        rs = (r * r).sum(axis=0)
        rs0 = rs.copy()
        for _ in range(cg_iters):
            hp = p + xt @ (h * (x @ p))
            php = (p * hp).sum(axis=0)
            alpha = np.divide(rs, php, out=np.zeros_like(rs), where=php > 0)
            s += alpha * p
            r -= alpha * hp
            rs_new = (r * r).sum(axis=0)
            if np.all(rs_new <= 1e-4 * rs0):
                break
            beta = np.divide(rs_new, rs, out=np.zeros_like(rs), where=rs > 0)
            p = r + beta * p
            rs = rs_new
        # backtracking (Armijo) line search along s, every column at once
        u = x @ s
        f0 = 0.5 * (w * w).sum(axis=0) + _loss_value(loss, y, z, cm)
        slope = (g * s).sum(axis=0)
        t = np.ones(b)
        for _ in range(30):
            wt = w + t * s
            ft = 0.5 * (wt * wt).sum(axis=0) + _loss_value(loss, y, z + t * u, cm)
            bad = ft > f0 + 1e-4 * t * slope
            if not bad.any():
                break
            t = np.where(bad, t * 0.5, t)
        w += t * s
        z += t * u
    return w


def objective(
    x: sp.csr_matrix,
    y: np.ndarray,
    row_weight: np.ndarray,
    mask: np.ndarray | None,
    w: np.ndarray,
    *,
    cost: float,
    loss: str = "sqhinge",
) -> np.ndarray:
    """Per-column objective value (for tests and diagnostics)."""
    cm = cost * row_weight.astype(np.float64)[:, None]
    if mask is not None:
        cm = cm * mask
    cm = np.broadcast_to(cm, y.shape)
    return 0.5 * (w * w).sum(axis=0) + _loss_value(loss, y.astype(np.float64), x @ w, cm)


def _softmax(z: np.ndarray, mask: np.ndarray, null: bool) -> tuple[np.ndarray, np.ndarray]:
    """Row-wise softmax over the masked-in columns (plus a fixed 0 logit when `null`);
    returns (probabilities, log partition)."""
    zm = np.where(mask, z, -np.inf)
    mx = zm.max(axis=1)
    if null:
        mx = np.maximum(mx, 0.0)
    mx = np.where(np.isfinite(mx), mx, 0.0)
    e = np.exp(zm - mx[:, None])
    tot = e.sum(axis=1) + (np.exp(-mx) if null else 0.0)
    tot = np.where(tot > 0, tot, 1.0)  # a row with no valid column: partition of nothing
    p = e / tot[:, None]
    return p, mx + np.log(tot)


def softmax_lse(z: np.ndarray, mask: np.ndarray, null: bool) -> np.ndarray:
    """Row-wise log partition over the masked-in columns (+ a 0 logit when `null`)."""
    return _softmax(z, mask, null)[1]


def train_block_softmax(
    x: sp.csr_matrix,
    target: np.ndarray,
    row_weight: np.ndarray,
    mask: np.ndarray,
    *,
    cost: float,
    null: bool = True,
    offset: np.ndarray | None = None,
    newton_iters: int = 6,
    cg_iters: int = 12,
    tol: float = 1e-3,
) -> np.ndarray:
    """Weights (d x B) of one node's children as a multinomial logistic model.

        min_W  1/2 |W|^2 + C * sum_i c_i * -log softmax_i(x_i W)[target_i]

    over each row's valid children (`mask`, (m, B) bool), with fixed per-child logit offsets
    (`offset`, (B,): a log-popularity prior, so the weights learn what differs from
    popularity and regularisation shrinks toward it rather than toward uniform). With
    `null`, every softmax also
    holds a fixed logit 0 for "the target is not below this node"; rows with target -1
    (matcher-aware negatives: the beam reached this node, the target is elsewhere) are
    positives of that null class, so a node's children learn to score low for them.
    Newton-CG on the joint (d*B) problem: Hessian-vector products are two sparse x dense
    products, as in `train_block`, followed by an exact 1-D Newton line search.
    """
    m, d = x.shape
    b = mask.shape[1]
    mask = mask.astype(bool, copy=False)
    y = np.zeros((m, b))
    has = target >= 0
    y[np.flatnonzero(has), target[has]] = 1.0
    c = cost * row_weight.astype(np.float64)
    xt = x.T.tocsr()
    w = np.zeros((d, b))
    z = np.zeros((m, b))
    if offset is not None:
        z += offset[None, :]
    g0 = None
    for _ in range(newton_iters):
        p, _lse = _softmax(z, mask, null)
        g = w + xt @ (c[:, None] * (p - y))
        gn = float(np.sqrt((g * g).sum()))
        if g0 is None:
            g0 = max(gn, 1e-12)
        if gn <= tol * g0:
            break

        def hess(v: np.ndarray, p: np.ndarray = p) -> np.ndarray:
            u = x @ v
            pu = p * u
            return v + xt @ (c[:, None] * (pu - p * pu.sum(axis=1, keepdims=True)))

        s = np.zeros_like(w)
        r = -g
        pd = r.copy()
        rs = float((r * r).sum())
        rs0 = rs
        for _ in range(cg_iters):
            hp = hess(pd)
            php = float((pd * hp).sum())
            if php <= 0:
                break
            alpha = rs / php
            s += alpha * pd
            r -= alpha * hp
            rs_new = float((r * r).sum())
            if rs_new <= 1e-4 * rs0:
                break
            pd = r + (rs_new / rs) * pd
            rs = rs_new
        u = x @ s
        phi = partial(
            _softmax_line,
            z=z,
            u=u,
            w=w,
            s=s,
            c=c,
            mask=mask,
            null=null,
            rows=np.flatnonzero(has),
            cols=target[has],
        )
        t = _backtrack(phi, float((g * s).sum()))
        w += t * s
        z += t * u
    return w


def _softmax_line(
    t: float,
    *,
    z: np.ndarray,
    u: np.ndarray,
    w: np.ndarray,
    s: np.ndarray,
    c: np.ndarray,
    mask: np.ndarray,
    null: bool,
    rows: np.ndarray,
    cols: np.ndarray,
) -> float:
    """The softmax objective at w + t*s (logits z + t*u), for the line search."""
    zt = z + t * u
    _, lse = _softmax(zt, mask, null)
    fit = lse.copy()
    fit[rows] -= zt[rows, cols]
    wt = w + t * s
    return 0.5 * float((wt * wt).sum()) + float((c * fit).sum())


def softmax_objective(
    x: sp.csr_matrix,
    target: np.ndarray,
    row_weight: np.ndarray,
    mask: np.ndarray,
    w: np.ndarray,
    *,
    cost: float,
    null: bool = True,
    offset: np.ndarray | None = None,
) -> float:
    """The objective `train_block_softmax` minimises (for tests)."""
    z = x @ w
    if offset is not None:
        z = z + offset[None, :]
    _, lse = _softmax(z, mask.astype(bool), null)
    has = target >= 0
    zt = np.zeros(len(target))
    zt[has] = z[np.flatnonzero(has), target[has]]
    return float(0.5 * (w * w).sum() + (cost * row_weight * (lse - zt)).sum())
