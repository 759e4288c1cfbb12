"""XR-Linear rankers: one sparse linear model per tree level, trained top-down.

At level l every node's weight vector scores it against its siblings (the children of its
parent at level l-1). For each parent P the training rows are

* teacher-forced: examples whose target lies under P (the child on the target's path is
  the positive, its siblings the negatives), and
* matcher-aware: examples whose beam at level l-1 (the model trained so far, searched the
  way the runtime searches) holds P although the target is elsewhere: the model's own top
  wrong nodes, negatives for every child of P (with the softmax loss: the "null" class).

The default loss is a multinomial logistic model over each node's children with the
popularity prior as fixed logit offsets: a hierarchical softmax whose path scores are
log-probabilities, comparable across subtrees of any depth; PECOS's one-vs-rest squared
hinge / logistic stay available (`XMRParams.loss`).

Prefix-aware, like the runtime: a level fixed by the typed prefix (a trie level no deeper
than the prefix) is never trained on that example, and a child with no label extending the
example's prefix is masked out of its loss, since the runtime never considers it. Rows
that teach nothing are dropped. All children of a node are solved together
(`solver.train_block_softmax` / `train_block`); weights below `prune` are dropped.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from autocomplete.model.tree import HybridTree
from autocomplete.model.xmr import combine

from ..progress import Phase, Progress, ProgressLike
from .params import XMRParams
from .solver import softmax_lse, train_block, train_block_softmax


@dataclass(frozen=True)
class TrainingSet:
    """Examples as arrays: input rows, weights (merged duplicates), target label ids, and the
    label-id range [lo, hi) of the labels extending each example's prefix."""

    x: sp.csr_matrix  # (N, d) float32
    weight: np.ndarray  # (N,) float32
    target: np.ndarray  # (N,) int32
    lo: np.ndarray  # (N,) int64
    hi: np.ndarray  # (N,) int64
    plen: np.ndarray  # (N,) int32 prefix length

    def __len__(self) -> int:
        return int(self.target.shape[0])


def group_terms(s: np.ndarray, ok: np.ndarray, how: str, null: bool) -> np.ndarray:
    """Level terms of an (m, k) block of sibling scores, `ok` marking the valid siblings."""
    if how == "softmax":
        return s - softmax_lse(s, ok, null)[:, None]
    return combine(s, how)


class Validity:
    """Does node c (at some level) hold a label in [lo, hi)? Vectorised over (c, range) pairs.

    See `HybridTree.validity_keys`; the label level needs no table: node = tree position.
    """

    def __init__(self, tree: HybridTree, anc: list[np.ndarray]) -> None:
        self.n = tree.n_labels
        self.perm = np.asarray(tree.perm, dtype=np.int64)
        self.height = tree.height
        self.keys = tree.validity_keys(anc)

    def count(self, level: int, nodes: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        if level == self.height:
            lab = self.perm[nodes]
            return ((lab >= lo) & (lab < hi)).astype(np.int64)
        key = self.keys[level]
        base = nodes.astype(np.int64) * (self.n + 1)
        return np.searchsorted(key, base + hi) - np.searchsorted(key, base + lo)


def _forced(plen: np.ndarray, level: int, depth: int) -> np.ndarray:
    """Examples whose node at `level` is fixed by their prefix (trie levels within it)."""
    return np.minimum(plen, depth) >= level


def _compact(x: sp.csr_matrix, rows: np.ndarray) -> tuple[sp.csr_matrix, np.ndarray]:
    sub = x[rows]
    cols, inv = np.unique(sub.indices, return_inverse=True)
    sub = sp.csr_matrix((sub.data, inv.astype(np.int32), sub.indptr), shape=(len(rows), len(cols)))
    return sub, cols


@dataclass(frozen=True)
class _LevelJob:
    """Everything the per-node fits of one level read (shared with forked workers)."""

    ts: TrainingSet
    valid: Validity
    params: XMRParams
    level: int
    cptr: np.ndarray
    t_node: np.ndarray
    e_all: np.ndarray  # training rows, grouped by parent (see `bounds`)
    bounds: np.ndarray
    softmax: bool
    null: bool
    prior: np.ndarray | None
    max_rows: int
    seed_key: np.ndarray  # per parent: the global tree position of its first label


_Part = tuple[np.ndarray, np.ndarray, np.ndarray, int]  # node ids, feature ids, weights, rows
_JOB: _LevelJob | None = None  # the job forked workers read (set before the pool starts)


def _fit_parent(job: _LevelJob, par: int) -> _Part | None:
    """Fit the children of one parent node; None when no row teaches anything."""
    ts, params = job.ts, job.params
    rows = job.e_all[job.bounds[par] : job.bounds[par + 1]]
    c0, c1 = int(job.cptr[par]), int(job.cptr[par + 1])
    kids = np.arange(c0, c1)
    k = c1 - c0
    cnt = job.valid.count(
        job.level, np.tile(kids, len(rows)), np.repeat(ts.lo[rows], k), np.repeat(ts.hi[rows], k)
    )
    mask = cnt.reshape(len(rows), k) > 0
    hit = job.t_node[rows][:, None] == kids[None, :]
    has = hit.any(axis=1)
    nvalid = mask.sum(axis=1)
    if job.softmax:
        keep = np.where(has, nvalid >= (1 if job.null else 2), job.null & (nvalid >= 1))
    else:
        keep = np.where(has, nvalid >= 2, nvalid >= 1)
    if not keep.any():
        return None
    rows, hit, has, mask = rows[keep], hit[keep], has[keep], mask[keep]
    rw = ts.weight[rows].astype(np.float64)
    if len(rows) > job.max_rows:
        rng = np.random.default_rng([params.seed, job.level, int(job.seed_key[par])])
        pick = np.sort(rng.choice(len(rows), size=job.max_rows, replace=False))
        rw = rw[pick] * (len(rows) / job.max_rows)
        rows, hit, has, mask = rows[pick], hit[pick], has[pick], mask[pick]
    sub, cols = _compact(ts.x, rows)
    if job.softmax:
        tgt = np.where(has, hit.argmax(axis=1), -1)
        w = train_block_softmax(
            sub,
            tgt,
            rw,
            mask,
            cost=params.cost,
            null=job.null,
            offset=None if job.prior is None else job.prior[c0:c1],
            newton_iters=params.newton_iters,
            cg_iters=params.cg_iters,
        )
    else:
        w = train_block(
            sub,
            np.where(hit, 1.0, -1.0),
            rw,
            mask.astype(np.float64),
            cost=params.cost,
            loss=params.loss,
            newton_iters=params.newton_iters,
            cg_iters=params.cg_iters,
        )
    r, c = np.nonzero(np.abs(w) >= params.prune)
    return c0 + c, cols[r], w[r, c].astype(np.float32), len(rows)


def _fit_chunk(pars: np.ndarray) -> list[_Part]:
    assert _JOB is not None
    return [p for p in (_fit_parent(_JOB, int(par)) for par in pars) if p is not None]


def _run_level(job: _LevelJob, parents: np.ndarray, workers: int) -> list[_Part]:
    """Fit every parent's children, in `workers` forked processes when > 1."""
    if workers <= 1 or len(parents) < 2:
        return [p for p in (_fit_parent(job, int(par)) for par in parents) if p is not None]
    global _JOB
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    # balance by rows: deal parents round-robin from the heaviest down
    sizes = job.bounds[parents + 1] - job.bounds[parents]
    order = parents[np.argsort(-sizes, kind="stable")]
    chunks = [order[i :: workers * 4] for i in range(workers * 4)]
    _JOB = job
    try:
        with ProcessPoolExecutor(workers, mp_context=mp.get_context("fork")) as pool:
            results = list(pool.map(_fit_chunk, chunks))
    finally:
        _JOB = None
    return [p for r in results for p in r]


@dataclass
class _Beam:
    nodes: np.ndarray  # (N, b) int64, -1 = empty
    score: np.ndarray  # (N, b) float64 path scores


def node_priors(tree: HybridTree, counts: np.ndarray) -> list[np.ndarray]:
    """offset[l][node] = log(total training count of the labels below the node), l = 0..height."""
    c = np.maximum(np.asarray(counts, dtype=np.float64), 1.0)[tree.perm]
    cs = np.concatenate(([0.0], np.cumsum(c)))
    return [np.log(cs[s[1:]] - cs[s[:-1]]) for s in tree.spans()]


def fold_priors(
    weights: list[sp.csr_matrix], tree: HybridTree, counts: np.ndarray, bias_col: int
) -> list[sp.csr_matrix]:
    """The weights with the popularity offsets (`node_priors`) added to their bias column,
    so they score exactly as the runtime does."""
    out = []
    for level, off in enumerate(node_priors(tree, counts)[1:]):
        w = weights[level].tolil()
        w[:, bias_col] = (w[:, bias_col].toarray().ravel() + off)[:, None]
        out.append(w.tocsr())
    return out


def train_levels(
    ts: TrainingSet,
    tree: HybridTree,
    params: XMRParams,
    *,
    counts: np.ndarray | None = None,
    max_rows: int = 60000,
    workers: int = 1,
    label_offset: int = 0,
    progress: ProgressLike = None,
) -> list[sp.csr_matrix]:
    """Weights per level 1..height as node-major CSR (n_level x d) float32.

    With `counts` (softmax loss only) each child's logit carries the fixed offset
    log(count below it): the weights learn departures from popularity (`node_priors`);
    the runtime adds the same offsets (they are folded into the saved biases).
    `workers` > 1 fits the nodes of a level in that many forked processes; every node's
    fit is independent and seeded by (seed, level, global position of the node's first
    label), so the result does not change.
    label_offset: the global label id of the tree's first label when `tree` is one branch
        of a larger tree (`indexer.xmr.partition`): its nodes then draw the very row samples
        the whole tree's nodes draw.
    `progress`: the phase "XR-Linear training", one step per level.
    """
    with Progress.of(progress).phase("XR-Linear training", total=tree.height) as ph:
        weights = _train_levels(ts, tree, params, counts, max_rows, workers, label_offset, ph)
        ph.finish(f"{tree.height} levels, {sum(int(w.nnz) for w in weights)} weights")
    return weights


def _train_levels(
    ts: TrainingSet,
    tree: HybridTree,
    params: XMRParams,
    counts: np.ndarray | None,
    max_rows: int,
    workers: int,
    label_offset: int,
    ph: Phase,
) -> list[sp.csr_matrix]:
    how = params.combine
    softmax = params.loss == "softmax"
    null = softmax and params.null_class
    priors = node_priors(tree, counts) if (softmax and counts is not None) else None
    n_ex, dim = ts.x.shape
    anc = tree.ancestors()
    span = tree.spans()
    valid = Validity(tree, anc)
    pos = np.empty(tree.n_labels, dtype=np.int64)
    pos[tree.perm] = np.arange(tree.n_labels)
    tpos = pos[ts.target]
    nb = params.hard_negatives + 1
    beam = _Beam(np.full((n_ex, nb), -1, dtype=np.int64), np.zeros((n_ex, nb)))
    beam.nodes[:, 0] = 0  # the root
    weights: list[sp.csr_matrix] = []
    for level in range(1, tree.height + 1):
        cptr = tree.cptr[level - 1]
        n_par = len(cptr) - 1
        nkids = np.diff(cptr)
        t_par = anc[level - 1][tpos]
        t_node = anc[level][tpos]
        forced = _forced(ts.plen, level, tree.depth)
        # (example, parent, is_teacher) pairs: teacher-forced + matcher-aware
        ex_t = np.flatnonzero(~forced & (nkids[t_par] > 1))
        bn = beam.nodes
        e_b, j_b = np.nonzero(bn >= 0)
        p_b = bn[e_b, j_b]
        wrong = (p_b != t_par[e_b]) & ~forced[e_b] & (nkids[p_b] > 1)
        if softmax and not null:
            wrong[:] = False  # a plain hierarchical softmax has no class for them
        e_all = np.concatenate([ex_t, e_b[wrong]])
        p_all = np.concatenate([t_par[ex_t], p_b[wrong]])
        order = np.lexsort((e_all, p_all))
        e_all, p_all = e_all[order], p_all[order]
        bounds = np.searchsorted(p_all, np.arange(n_par + 1))
        job = _LevelJob(
            ts,
            valid,
            params,
            level,
            cptr,
            t_node,
            e_all,
            bounds,
            softmax,
            null,
            None if priors is None else priors[level],
            max_rows,
            span[level - 1][:-1] + label_offset,
        )
        parts = _run_level(job, np.flatnonzero(np.diff(bounds)), workers)
        rows_w = [p[0] for p in parts]
        cols_w = [p[1] for p in parts]
        vals_w = [p[2] for p in parts]
        trained = len(parts)
        n_rows = sum(p[3] for p in parts)
        n_level = int(cptr[-1])
        if rows_w:
            wl = sp.csr_matrix(
                (np.concatenate(vals_w), (np.concatenate(rows_w), np.concatenate(cols_w))),
                shape=(n_level, dim),
                dtype=np.float32,
            )
        else:
            wl = sp.csr_matrix((n_level, dim), dtype=np.float32)
        wl.sort_indices()
        weights.append(wl)
        ph.advance(
            detail=f"level {level}: {n_level} nodes, {trained} trained on "
            f"{n_rows} rows, {wl.nnz} weights"
        )
        if level < tree.height and params.hard_negatives > 0:
            off = None if priors is None else priors[level]
            beam = _advance_beam(
                ts, tree, level, beam, wl, forced, t_node, valid, nb, how, null, off
            )
    return weights


def _advance_beam(
    ts: TrainingSet,
    tree: HybridTree,
    level: int,
    beam: _Beam,
    wl: sp.csr_matrix,
    forced: np.ndarray,
    t_node: np.ndarray,
    valid: Validity,
    nb: int,
    how: str,
    null: bool,
    offset: np.ndarray | None,
) -> _Beam:
    """The runtime's beam search one level down, for every example at once."""
    n_ex = len(ts)
    cptr = tree.cptr[level - 1]
    nkids = np.diff(cptr)
    e_b, j_b = np.nonzero(beam.nodes >= 0)
    keep = ~forced[e_b]
    e_b, j_b = e_b[keep], j_b[keep]
    par = beam.nodes[e_b, j_b]
    base = beam.score[e_b, j_b]
    out_e: list[np.ndarray] = []
    out_c: list[np.ndarray] = []
    out_s: list[np.ndarray] = []
    single = nkids[par] == 1
    out_e.append(e_b[single])
    out_c.append(cptr[par[single]])
    out_s.append(base[single])
    e_m, p_m, b_m = e_b[~single], par[~single], base[~single]
    order = np.argsort(p_m, kind="stable")
    e_m, p_m, b_m = e_m[order], p_m[order], b_m[order]
    bounds = np.flatnonzero(np.diff(p_m)) + 1
    for lo_i, hi_i in zip(np.r_[0, bounds], np.r_[bounds, len(p_m)], strict=True):
        if hi_i <= lo_i:
            continue
        rows = e_m[lo_i:hi_i]
        c0, c1 = int(cptr[p_m[lo_i]]), int(cptr[p_m[lo_i] + 1])
        k = c1 - c0
        kids = np.arange(c0, c1)
        ok = (
            valid.count(
                level,
                np.tile(kids, len(rows)),
                np.repeat(ts.lo[rows], k),
                np.repeat(ts.hi[rows], k),
            ).reshape(len(rows), k)
            > 0
        )
        s = (ts.x[rows] @ wl[c0:c1].T).toarray()
        if offset is not None:
            s += offset[None, c0:c1]
        s = group_terms(s, ok, how, null) + b_m[lo_i:hi_i, None]
        s[~ok] = -np.inf
        if k > nb:
            top = np.argpartition(-s, nb - 1, axis=1)[:, :nb]
        else:
            top = np.broadcast_to(np.arange(k), (len(rows), k))
        st = np.take_along_axis(s, top, axis=1)
        fin = np.isfinite(st)
        out_e.append(np.broadcast_to(rows[:, None], top.shape)[fin])
        out_c.append((c0 + top)[fin])
        out_s.append(st[fin])
    e_c = np.concatenate(out_e)
    child = np.concatenate(out_c).astype(np.int64)
    score = np.concatenate(out_s)
    order = np.lexsort((-score, e_c))
    e_c, child, score = e_c[order], child[order], score[order]
    first = np.searchsorted(e_c, e_c, side="left")
    rank = np.arange(len(e_c)) - first
    top_m = rank < nb
    nodes = np.full((n_ex, nb), -1, dtype=np.int64)
    scores = np.zeros((n_ex, nb))
    nodes[e_c[top_m], rank[top_m]] = child[top_m]
    scores[e_c[top_m], rank[top_m]] = score[top_m]
    f = np.flatnonzero(forced)
    nodes[f] = -1
    nodes[f, 0] = t_node[f]
    scores[f] = 0.0
    return _Beam(nodes, scores)
