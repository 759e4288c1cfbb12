"""Top-level branches of the hybrid tree: planned by example count, assembled back into one.

The tree's first trie level splits the sorted labels by their first character, and label ids
are ranks in code-point order, so a run of first characters is a contiguous run of label
ids and, level by level, of tree nodes (nodes are numbered breadth-first, children in order).
Every training example's prefix fixes its first character (`train._forced`), so no example
crosses from one branch to another: each branch learns alone (`indexer.xmr.partition`), and
its arrays, offset and concatenated in branch order, are exactly the whole tree's arrays.
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from autocomplete.model.tree import HybridTree

from ..errors import PartitionError


@dataclass(frozen=True)
class Branch:
    """Labels [lo, hi) (global ids), those whose first character is in [first, last]."""

    index: int
    lo: int
    hi: int
    first: str
    last: str
    weight: float

    def __post_init__(self) -> None:
        if not 0 <= self.lo < self.hi or self.first > self.last:
            raise ValueError(f"empty branch: labels [{self.lo}, {self.hi}), {self.first!r}..")

    @property
    def n_labels(self) -> int:
        return self.hi - self.lo

    def holds(self, text: str) -> bool:
        return bool(text) and self.first <= text[0] <= self.last


def leading_runs(texts: Sequence[str]) -> list[tuple[str, int, int]]:
    """(first character, lo, hi) for each run of sorted `texts` sharing a first character."""
    runs: list[tuple[str, int, int]] = []
    for i, t in enumerate(texts):
        if not t:
            raise PartitionError("an empty label cannot sit under a first-character branch")
        if runs and runs[-1][0] == t[0]:
            runs[-1] = (t[0], runs[-1][1], i + 1)
        else:
            runs.append((t[0], i, i + 1))
    return runs


def example_weight(q: str, max_prefix_len: int) -> int:
    """How many examples a pair whose q_next is a label makes (before duplicates merge)."""
    if len(q) < 2:
        return 0
    n = len(q) - 1
    return min(n, max_prefix_len) + (n > max_prefix_len)


def char_weights(
    query_counts: Mapping[str, int], labels: Iterable[str], max_prefix_len: int
) -> Counter[str]:
    """The examples (before duplicates merge) that the pairs whose q_next is a label make,
    by the label's first character: what `plan_branches` balances. `query_counts`: how many
    pairs have each q_next."""
    out: Counter[str] = Counter()
    for q in labels:
        n = query_counts.get(q, 0)
        if n and len(q) >= 2:
            out[q[0]] += n * example_weight(q, max_prefix_len)
    return out


def plan_branches(
    texts: Sequence[str], weight_of_char: Mapping[str, float], partitions: int
) -> list[Branch]:
    """At most `partitions` contiguous runs of first characters, balanced by weight.

    weight_of_char: the work under each first character (examples, say); each character
    also counts its labels, which cost clustering even without examples. A character is
    never split, so a very heavy one makes a branch of its own and fewer branches may come
    back than were asked for.
    """
    if partitions < 1:
        raise ValueError(f"partitions must be >= 1, got {partitions}")
    runs = leading_runs(texts)
    if not runs:
        raise PartitionError("no labels to partition")
    w = np.array([weight_of_char.get(c, 0.0) + (hi - lo) for c, lo, hi in runs])
    total = float(w.sum())
    # a run goes to the branch its weight's midpoint falls in: cuts near the quantiles
    mid = np.cumsum(w) - w / 2
    part = np.minimum((mid * partitions / total).astype(np.int64), partitions - 1)
    branches: list[Branch] = []
    for p in np.unique(part):
        idx = np.flatnonzero(part == p)
        a, b = runs[idx[0]], runs[idx[-1]]
        branches.append(Branch(len(branches), a[1], b[2], a[0], b[0], float(w[idx].sum())))
    return branches


def branch_of(branches: Sequence[Branch], text: str) -> int | None:
    """The index of the branch whose first characters hold `text`'s, or None."""
    if not text:
        return None
    i = bisect.bisect_right([b.first for b in branches], text[0]) - 1
    return i if i >= 0 and branches[i].holds(text) else None


def assemble_tree(depth: int, trees: Sequence[HybridTree], offsets: Sequence[int]) -> HybridTree:
    """The whole tree from its branches' trees (each over its own labels, ids from 0),
    `offsets[i]` being branch i's first global label id."""
    if not trees:
        raise PartitionError("no branch trees to assemble")
    height = trees[0].height
    if any(t.height != height or t.depth != depth for t in trees):
        raise PartitionError("branch trees disagree on depth or height; build them alike")
    cptr = [np.array([0, sum(t.level_size(1) for t in trees)], dtype=np.int64)]
    for level in range(1, height):
        parts, base = [np.zeros(1, dtype=np.int64)], 0
        for t in trees:
            parts.append(t.cptr[level][1:] + base)
            base += int(t.cptr[level][-1])
        cptr.append(np.concatenate(parts))
    perm = np.concatenate(
        [t.perm.astype(np.int64) + off for t, off in zip(trees, offsets, strict=True)]
    )
    tree = HybridTree(depth, tuple(cptr), perm.astype(np.int32))
    tree.check(int(perm.shape[0]))
    return tree


def assemble_weights(
    branch_weights: Sequence[Sequence[sp.csr_matrix]], dim: int
) -> list[sp.csr_matrix]:
    """Each level's weights: the branches' rows stacked in branch order.

    Level 1 (root -> first characters) trains on no row in either build, since every
    prefix fixes its first character; only the popularity offsets, folded in afterwards
    over the whole tree, set its scores.
    """
    levels = len(branch_weights[0])
    out = []
    for level in range(levels):
        blocks = [bw[level] for bw in branch_weights]
        if level == 0 and any(b.nnz for b in blocks):
            raise PartitionError("a branch trained its root level; it has no rows to learn from")
        w = sp.vstack(blocks, format="csr", dtype=np.float32)
        if w.shape[1] != dim:
            raise PartitionError(f"branch weights have {w.shape[1]} columns, expected {dim}")
        w.sort_indices()
        out.append(w)
    return out
