"""The label level's weights by feature: a prefix's label range scored through the input's
few columns.

Why: scoring every label of a short prefix (`XMRModel.range_scores`, up to
`RankParams.exact_threshold` labels) through the node-major rows (`LevelWeights.span`) reads
every weight of every label in the range, though one keystroke's input has only a few dozen
non-zero columns (the prefix's n-grams, the previous query's words). Here each weight is
keyed by (column, label) in one sorted int64 array, so the weights of all the input's
columns inside [lo, hi) are found by two `searchsorted` calls and summed with one
`bincount`: the work follows the weights that meet the input, not the range's size.

Built from the label level when the model is loaded (nothing more in the index directory);
the products are the same float32 products as `LevelWeights.span`'s, only summed in
another order (float64 either way).
"""

from __future__ import annotations

import numpy as np

from .levels import LevelWeights, spans


class LabelColumns:
    """Feature-major copy of a label level (rows in label-id order)."""

    __slots__ = ("key", "data", "stride", "bias")

    def __init__(self, level: LevelWeights) -> None:
        n = level.n
        self.stride = n + 1
        rows = np.repeat(np.arange(n, dtype=np.int64), np.diff(level.ip))
        key = np.asarray(level.ix, dtype=np.int64) * self.stride + rows
        order = np.argsort(key, kind="stable")
        self.key = key[order]
        self.data = np.asarray(level.dt)[order]
        self.bias = level.bias

    def cost(self, lo: int, hi: int, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(first, count) of each column's weights on labels lo..hi-1."""
        base = cols.astype(np.int64) * self.stride
        first = np.searchsorted(self.key, base + lo)
        return first, np.searchsorted(self.key, base + hi) - first

    def span(
        self,
        lo: int,
        hi: int,
        cols: np.ndarray,
        vals: np.ndarray,
        found: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> np.ndarray:
        """bias + w . x of labels lo..hi-1, for the input x given as (cols, vals); `found`: the
        `cost` of these columns when the caller already has it."""
        first, count = found if found is not None else self.cost(lo, hi, cols)
        flat = spans(first, count)
        base = np.repeat(cols.astype(np.int64) * self.stride + lo, count)
        v = self.data[flat] * np.repeat(vals, count)
        return self.bias[lo:hi] + np.bincount(self.key[flat] - base, v, minlength=hi - lo)
