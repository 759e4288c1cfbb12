"""One level of the XR-Linear chain: every node's linear ranker, scored and stored.

A level's weights are bias + w[node] . x for each node. Three layouts of the same weights:
node-major CSR rows (`gather` for scattered nodes, `span` for a contiguous run), a dense bias
vector (the always-present bias feature never costs a gather), and for the levels above the
labels a feature-major copy (`full`: every node of the level in one pass over the input's few
features). The label level's rows are in label-id order, so a prefix's labels are one
contiguous run.

Files of level l: `xmr_w_{l}` (node-major rows without the bias column), `xmr_b_{l}` (the
bias per node) and, above the label level, `xmr_wt_{l}` (feature-major).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .artifact import IndexFiles, IndexWriter
from .errors import IndexFormatError

ROWS, BIAS, COLUMNS = "xmr_w_{}", "xmr_b_{}", "xmr_wt_{}"


def spans(starts: np.ndarray, lens: np.ndarray) -> np.ndarray:
    """Concatenated aranges [starts[i], starts[i] + lens[i]) without a Python loop."""
    ends = np.cumsum(lens)
    return np.arange(int(ends[-1]) if len(ends) else 0, dtype=np.int64) + np.repeat(
        starts - ends + lens, lens
    )


def sorted_unique(a: np.ndarray) -> np.ndarray:
    """np.unique(a) for a few dozen ids, without np.unique's per-call overhead (sort, then
    keep each run's first)."""
    s = np.sort(a)
    if len(s) < 2:
        return s
    first = np.empty(len(s), dtype=bool)
    first[0] = True
    np.not_equal(s[1:], s[:-1], out=first[1:])
    return s[first]


class LevelWeights:
    """One level's linear rankers: bias + w[node] . x, for any set of nodes (`dim` features,
    the bias not counted)."""

    __slots__ = ("ip", "ix", "dt", "bias", "tip", "tix", "tdt", "n", "dim", "avg")

    def __init__(
        self,
        ip: np.ndarray,
        ix: np.ndarray,
        dt: np.ndarray,
        bias: np.ndarray,
        dim: int,
        t: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
    ) -> None:
        self.ip, self.ix, self.dt = ip, ix, dt
        self.dim = dim
        self.bias = bias.astype(np.float64)
        self.n = int(ip.shape[0]) - 1
        self.avg = float(ip[-1]) / max(self.n, 1)
        self.tip: np.ndarray | None = None
        self.tix: np.ndarray | None = None
        self.tdt: np.ndarray | None = None
        if t is not None:
            self.tip, self.tix, self.tdt = t

    def gather(self, nodes: np.ndarray, xd: np.ndarray) -> np.ndarray:
        ip = self.ip
        a = ip[nodes]
        lens = ip[nodes + 1] - a
        out = self.bias[nodes]
        if len(nodes):
            flat = spans(a, lens)
            if len(flat):
                v = self.dt[flat] * xd[self.ix[flat]]
                out += np.bincount(np.repeat(np.arange(len(nodes)), lens), v, minlength=len(nodes))
        return out

    def span(self, lo: int, hi: int, xd: np.ndarray) -> np.ndarray:
        ip = self.ip
        a, b = int(ip[lo]), int(ip[hi])
        cs = np.zeros(b - a + 1)
        np.cumsum(self.dt[a:b] * xd[self.ix[a:b]], out=cs[1:])
        off = ip[lo : hi + 1] - a
        return self.bias[lo:hi] + (cs[off[1:]] - cs[off[:-1]])

    def full_cost(self, cols: np.ndarray) -> float:
        if self.tip is None:
            return float("inf")
        return float((self.tip[cols + 1] - self.tip[cols]).sum()) + 0.25 * self.n

    def full(self, cols: np.ndarray, vals: np.ndarray) -> np.ndarray:
        assert self.tip is not None and self.tix is not None and self.tdt is not None
        a = self.tip[cols]
        lens = self.tip[cols + 1] - a
        flat = spans(a, lens)
        v = self.tdt[flat] * np.repeat(vals, lens)
        return self.bias + np.bincount(self.tix[flat], v, minlength=self.n)

    @classmethod
    def from_trained(
        cls, w: sp.csr_matrix, bias_col: int, order: np.ndarray | None, upper: bool
    ) -> LevelWeights:
        """A trained level (node-major, the bias a column) in its serving layout; `order`
        puts the rows in label-id order (the label level), `upper` adds the feature-major copy."""
        w = sp.csr_matrix(w)
        bias = np.asarray(w[:, bias_col].todense(), dtype=np.float32).ravel()
        body = sp.csr_matrix(w[:, :bias_col], dtype=np.float32)
        if order is not None:
            body, bias = body[order], bias[order]
        body.sort_indices()
        t = None
        if upper:
            bt = body.T.tocsr()
            bt.sort_indices()
            t = (bt.indptr, bt.indices, bt.data)
        return cls(body.indptr, body.indices, body.data, bias, bias_col, t)

    def rows(self) -> sp.csr_matrix:
        return sp.csr_matrix((self.dt, self.ix, self.ip), shape=(self.n, self.dim))

    def save(self, w: IndexWriter, level: int) -> None:
        w.matrix(ROWS.format(level), self.rows())
        w.array(BIAS.format(level), self.bias.astype(np.float32))
        if self.tip is not None:
            w.matrix(COLUMNS.format(level), self.rows().T.tocsr())

    @classmethod
    def load(cls, files: IndexFiles, level: int, size: int, dim: int, upper: bool) -> LevelWeights:
        """Level `level` of `size` nodes over `dim` features; `IndexFormatError` when a shape
        or an index disagrees."""
        w = files.matrix(ROWS.format(level))
        bias = np.asarray(files.array(BIAS.format(level)))
        _check(files, w, (size, dim), f"level {level} weights")
        if bias.shape != (size,):
            raise IndexFormatError(f"{files.path}: xmr level {level} bias has shape {bias.shape}")
        t = None
        if upper:
            wt = files.matrix(COLUMNS.format(level))
            _check(files, wt, (dim, size), f"level {level} feature-major weights")
            t = (np.asarray(wt.indptr), np.asarray(wt.indices), np.asarray(wt.data))
        return cls(np.asarray(w.indptr), np.asarray(w.indices), np.asarray(w.data), bias, dim, t)


def _check(files: IndexFiles, w: sp.csr_matrix, shape: tuple[int, int], what: str) -> None:
    check_matrix(w, shape, f"{files.path}: xmr {what}")


def check_matrix(w: sp.csr_matrix, shape: tuple[int, int], what: str) -> None:
    """`IndexFormatError` unless `w` has `shape` and every column index fits it."""
    if w.shape != shape:
        raise IndexFormatError(f"{what} have shape {w.shape}, expected {shape}")
    if w.nnz and (int(np.max(w.indices)) >= shape[1] or int(np.min(w.indices)) < 0):
        raise IndexFormatError(f"{what} index past {shape[1]} columns")
