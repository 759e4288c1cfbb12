"""Balanced spherical k-means by recursive bisection, vectorised over sparse rows.

PECOS's hierarchical k-means splits a node with balanced spherical 2-means; a B-ary split is
log2(B) such bisections (B a power of two) or, for k children that are not a power of two,
bisections at the quantile k1/k. Balance keeps the tree's levels uniform and leaves bounded.
Each iteration is one sparse matrix x dense vector product over the node's active columns;
deterministic given the seed.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def _unit(v: np.ndarray) -> np.ndarray:
    n = float(np.linalg.norm(v))
    return v / n if n > 0 else v


def bisect(emb: sp.csr_matrix, n_left: int, iters: int, rng: np.random.Generator) -> np.ndarray:
    """Bool mask of the `n_left` rows of `emb` that go left, by balanced spherical 2-means.

    Rows are ranked by (similarity to the left centroid - to the right one) and the top
    n_left go left; centroids are the normalised sums of their rows.
    """
    n = emb.shape[0]
    mask = np.zeros(n, dtype=bool)
    if n_left <= 0:
        return mask
    if n_left >= n:
        mask[:] = True
        return mask
    a, b = rng.choice(n, size=2, replace=False)
    # centroids live on the node's own columns only: a small node touches few of the
    # (100k+) embedding columns, and dense full-width centroids would dominate the cost
    cols, inv = np.unique(emb.indices, return_inverse=True)
    emb = sp.csr_matrix((emb.data, inv.astype(np.int32), emb.indptr), shape=(n, len(cols)))
    c_left = np.asarray(emb[a].todense()).ravel().astype(np.float64)
    c_right = np.asarray(emb[b].todense()).ravel().astype(np.float64)
    emb_t = emb.T.tocsr()
    total = np.asarray(emb_t.sum(axis=1)).ravel()
    for it in range(max(iters, 1)):
        diff = emb @ (c_left - c_right)
        # stable sort on the negated score: ties break by row order, so runs repeat exactly
        order = np.argsort(-diff, kind="stable")
        new = np.zeros(n, dtype=bool)
        new[order[:n_left]] = True
        if it > 0 and np.array_equal(new, mask):
            break
        mask = new
        s_left = emb_t @ mask.astype(np.float64)
        c_left = _unit(s_left)
        c_right = _unit(total - s_left)
    return mask


def split(
    emb: sp.csr_matrix, ids: np.ndarray, k: int, iters: int, rng: np.random.Generator
) -> list[np.ndarray]:
    """Split the rows `ids` of `emb` into k balanced clusters (sizes differ by at most one
    per bisection), each returned sorted."""
    if k <= 1 or len(ids) <= 1:
        return [np.sort(ids)]
    k1 = k // 2
    n_left = (len(ids) * k1) // k
    mask = bisect(emb[ids], n_left, iters, rng)
    return split(emb, ids[mask], k1, iters, rng) + split(emb, ids[~mask], k - k1, iters, rng)
