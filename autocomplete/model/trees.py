"""A boosted tree ensemble scored with numpy: every tree, every candidate, a handful of array ops.

The learned ranker (`autocomplete.learned`) is a LightGBM model fitted at build time; serving
must not pay LightGBM's per-call overhead (hundreds of microseconds for a few dozen rows) nor
walk trees node by node in Python. So the fitted trees are exported once into flat arrays
and scored the QuickScorer way (Lucchese et al., SIGIR 2015): each split node carries a bit
mask of its tree's leaves that stay reachable when its test fails (x > threshold clears the
leaves of the left subtree). For a candidate, the AND of the masks of every failed test of a
tree leaves the exit leaf as the lowest set bit, leaves being numbered left to right. All
tests of all trees are one gather and one comparison; the ANDs are one `reduceat`.

A tree may have at most 64 leaves (one uint64 mask). Thresholds follow LightGBM's numerical
splits ("<=": left when x <= threshold); no missing values occur in candidate features.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import IndexFormatError

MAX_LEAVES = 64
_ALL = np.uint64(0xFFFF_FFFF_FFFF_FFFF)
_ONE = np.uint64(1)
#: for a byte of ruled-out leaves, the lowest leaf still open (8 when none is: never read,
#: a tree always has an exit leaf)
_FIRST_OPEN = np.array(
    [next((b for b in range(8) if not (m >> b) & 1), 8) for m in range(256)], dtype=np.intp
)


@dataclass(frozen=True)
class TreeEnsemble:
    """Flat arrays of a sum of trees over the columns `features`.

    Per split node (all trees, tree by tree): `feature` (column), `threshold`, `mask` (leaves
    reachable when x > threshold). Per tree: `node_start` (its first split node) and
    `leaf_start` (its first leaf in `leaf_value`).
    """

    features: tuple[str, ...]
    feature: np.ndarray
    threshold: np.ndarray
    mask: np.ndarray
    node_start: np.ndarray
    leaf_start: np.ndarray
    leaf_value: np.ndarray
    #: the byte-wide path's arrays (see `__post_init__`); None when a tree has > 8 leaves
    _ruled_out: np.ndarray | None = field(init=False, repr=False, compare=False, default=None)
    _threshold_col: np.ndarray = field(init=False, repr=False, compare=False)
    _leaf_start_col: np.ndarray = field(init=False, repr=False, compare=False)

    @property
    def trees(self) -> int:
        return len(self.node_start)

    def __post_init__(self) -> None:
        # Trees of at most 8 leaves (the default fit has 7) take a byte-wide path: the leaves
        # a failed test rules out as uint8, and the exit leaf read from a 256-entry table of
        # "lowest leaf not ruled out" instead of five bit-twiddling array operations.
        object.__setattr__(self, "_threshold_col", self.threshold[:, None])
        object.__setattr__(self, "_leaf_start_col", self.leaf_start[:, None])
        leaves = np.diff(np.append(self.leaf_start, len(self.leaf_value)))
        if len(leaves) and int(leaves.max()) <= 8:
            ruled_out = (~self.mask & np.uint64(0xFF)).astype(np.uint8)
            object.__setattr__(self, "_ruled_out", ruled_out[:, None])

    def score(self, x: np.ndarray) -> np.ndarray:
        """The ensemble's sum over trees for each row of `x` (rows x len(features))."""
        if not len(x) or not self.trees:
            return np.zeros(len(x))
        failed = x.T[self.feature] > self._threshold_col  # split nodes x rows
        if self._ruled_out is not None:
            out = np.bitwise_or.reduceat(failed * self._ruled_out, self.node_start, axis=0)
            leaf = _FIRST_OPEN[out] + self._leaf_start_col
            return self.leaf_value[leaf].sum(axis=0)  # type: ignore[no-any-return]
        bits = np.where(failed, self.mask[:, None], _ALL)
        live = np.bitwise_and.reduceat(bits, self.node_start, axis=0)  # trees x rows
        lowest = live & (~live + _ONE)
        leaf = np.log2(lowest.astype(np.float64)).astype(np.intp)  # exact: powers of two
        leaf += self._leaf_start_col
        return self.leaf_value[leaf].sum(axis=0)  # type: ignore[no-any-return]

    @classmethod
    def from_lightgbm(cls, dump: Mapping[str, Any], features: Sequence[str]) -> TreeEnsemble:
        """From `lightgbm.Booster.dump_model()`; its feature k must be `features[k]`."""
        names = dump.get("feature_names")
        if names is not None and list(names) != list(features):
            raise ValueError(f"the model's features {names} are not {list(features)}")
        feature: list[int] = []
        threshold: list[float] = []
        mask: list[int] = []
        node_start: list[int] = []
        leaf_start: list[int] = []
        leaf_value: list[float] = []
        for tree in dump["tree_info"]:
            node_start.append(len(feature))
            leaf_start.append(len(leaf_value))
            root = tree["tree_structure"]
            if "split_feature" not in root:  # a lone leaf: one test that never fails
                feature.append(0)
                threshold.append(float("inf"))
                mask.append(int(_ALL))
                leaf_value.append(float(root["leaf_value"]))
                continue
            first_leaf = len(leaf_value)
            _flatten(root, feature, threshold, mask, leaf_value, first_leaf)
            if len(leaf_value) - first_leaf > MAX_LEAVES:
                raise ValueError(f"a tree has more than {MAX_LEAVES} leaves")
        return cls(
            tuple(features),
            np.array(feature, dtype=np.intp),
            np.array(threshold, dtype=np.float64),
            np.array(mask, dtype=np.uint64),
            np.array(node_start, dtype=np.intp),
            np.array(leaf_start, dtype=np.intp),
            np.array(leaf_value, dtype=np.float64),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "features": list(self.features),
            "feature": self.feature.tolist(),
            "threshold": [float(t) if np.isfinite(t) else None for t in self.threshold],
            "mask": [str(int(m)) for m in self.mask],  # JSON numbers lose uint64 bits
            "node_start": self.node_start.tolist(),
            "leaf_start": self.leaf_start.tolist(),
            "leaf_value": self.leaf_value.tolist(),
        }

    @classmethod
    def from_json(cls, raw: object, where: object = "trees") -> TreeEnsemble:
        """Parse and check an ensemble: every index in range, so scoring cannot fault."""
        try:
            assert isinstance(raw, dict)
            features = tuple(str(f) for f in raw["features"])
            feature = np.array(raw["feature"], dtype=np.intp)
            threshold = np.array(
                [np.inf if t is None else float(t) for t in raw["threshold"]], dtype=np.float64
            )
            mask = np.array([int(m) for m in raw["mask"]], dtype=np.uint64)
            node_start = np.array(raw["node_start"], dtype=np.intp)
            leaf_start = np.array(raw["leaf_start"], dtype=np.intp)
            leaf_value = np.array(raw["leaf_value"], dtype=np.float64)
        except (AssertionError, KeyError, TypeError, ValueError, OverflowError) as e:
            raise IndexFormatError(f"{where}: malformed tree ensemble ({e!r})") from e
        n = len(feature)
        ok = (
            len(threshold) == n == len(mask)
            and len(node_start) == len(leaf_start)
            and (not n or (feature.min() >= 0 and feature.max() < len(features)))
            and np.all(np.diff(node_start) > 0)
            and (not len(node_start) or (node_start[0] == 0 and node_start[-1] < n))
            and np.all(np.diff(leaf_start) > 0)
            and (not len(leaf_start) or (leaf_start[0] == 0 and leaf_start[-1] < len(leaf_value)))
            and np.all(np.diff(np.append(leaf_start, len(leaf_value))) <= MAX_LEAVES)
            and bool(np.all(np.isfinite(leaf_value)))
        )
        if not ok:
            raise IndexFormatError(f"{where}: inconsistent tree ensemble arrays")
        return cls(features, feature, threshold, mask, node_start, leaf_start, leaf_value)


def _flatten(
    node: Mapping[str, Any],
    feature: list[int],
    threshold: list[float],
    mask: list[int],
    leaf_value: list[float],
    first_leaf: int,
) -> range:
    """Append `node`'s subtree (splits in preorder, leaves left to right); returns the range
    of its leaves' numbers within the tree."""
    if "split_feature" not in node:
        leaf_value.append(float(node["leaf_value"]))
        n = len(leaf_value) - 1 - first_leaf
        return range(n, n + 1)
    if node.get("decision_type", "<=") != "<=":
        raise ValueError(f"unsupported split {node.get('decision_type')!r}")
    i = len(feature)
    feature.append(int(node["split_feature"]))
    threshold.append(float(node["threshold"]))
    mask.append(0)
    left = _flatten(node["left_child"], feature, threshold, mask, leaf_value, first_leaf)
    _flatten(node["right_child"], feature, threshold, mask, leaf_value, first_leaf)
    cleared = sum(1 << b for b in left)
    mask[i] = int(_ALL) & ~cleared
    return range(left.start, len(leaf_value) - first_leaf)
