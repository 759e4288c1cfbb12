"""The hybrid trie-tree: trie levels on the labels' first characters, k-means levels below.

Levels are uniform: level 0 is the root, level `height` holds the labels, and every node at
level l has its children contiguous at level l+1 (`cptr[l]`, CSR style). Levels 1..depth are
trie levels: the node of a label at level l groups the labels sharing `text[:l]`. Inside each
trie leaf, balanced spherical k-means splits down to leaves of at most `max_leaf` labels
(`indexer.xmr.tree.build_tree`); a trie leaf with fewer labels than the deepest one gets
single-child (pass-through) nodes right below it, so all labels sit at the same level.

Nodes are numbered breadth-first with children in order, so every node's labels occupy one
contiguous run of tree positions; `perm[pos]` is the label id at a tree position. Trie levels
keep label-id order, so a typed prefix of length >= l fixes its level-l node: the one holding
any label that extends the prefix.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .artifact import IndexFiles, IndexWriter
from .errors import IndexFormatError

#: files: the children pointers of level l (`xmr_cptr_{l}`) and the label at each position
CPTR, PERM = "xmr_cptr_{}", "xmr_perm"


@dataclass(frozen=True)
class HybridTree:
    """Structure only: which nodes are whose children, and where each label sits."""

    depth: int
    cptr: tuple[np.ndarray, ...]  # cptr[l]: (n_l + 1,) int64, for l in 0..height-1
    perm: np.ndarray  # (n_labels,) int32: tree position -> label id

    @property
    def height(self) -> int:
        return len(self.cptr)

    @property
    def n_labels(self) -> int:
        return int(self.perm.shape[0])

    def level_size(self, level: int) -> int:
        """Number of nodes at `level` (0 = root; `height` = labels)."""
        if level == 0:
            return 1
        return int(self.cptr[level - 1][-1])

    # -- derived arrays (cheap, computed once per process) -----------------------------
    def parents(self, level: int) -> np.ndarray:
        """(n_level,) int32: the parent (at level-1) of each node at `level` >= 1."""
        c = self.cptr[level - 1]
        return np.repeat(np.arange(len(c) - 1, dtype=np.int32), np.diff(c))

    def ancestors(self) -> list[np.ndarray]:
        """anc[l][pos]: the level-l node above tree position pos, for l in 0..height."""
        h = self.height
        anc: list[np.ndarray] = [np.empty(0, dtype=np.int32)] * (h + 1)
        anc[h] = np.arange(self.n_labels, dtype=np.int32)
        for level in range(h, 0, -1):
            anc[level - 1] = self.parents(level)[anc[level]]
        return anc

    def spans(self) -> list[np.ndarray]:
        """span[l]: (n_l + 1,) int64 tree positions; node i covers [span[l][i], span[l][i+1])."""
        h = self.height
        span: list[np.ndarray] = [np.empty(0, dtype=np.int64)] * (h + 1)
        span[h] = np.arange(self.n_labels + 1, dtype=np.int64)
        for level in range(h - 1, -1, -1):
            span[level] = span[level + 1][self.cptr[level]]
        return span

    def validity_keys(self, anc: list[np.ndarray] | None = None) -> list[np.ndarray]:
        """key[l] = sorted(node * (n + 1) + label id) over all labels, for l in 0..height-1.

        The labels of node c in the id range [lo, hi) are then the searchsorted interval
        [c*(n+1) + lo, c*(n+1) + hi): one vectorised test of "does this node hold a label
        extending the prefix" for any number of (node, range) pairs.
        """
        anc = anc if anc is not None else self.ancestors()
        n = self.n_labels
        perm = np.asarray(self.perm, dtype=np.int64)
        return [
            np.sort(anc[level].astype(np.int64) * (n + 1) + perm) for level in range(self.height)
        ]

    def only_child(self, level: int) -> np.ndarray:
        """(n_level,) bool: the node is its parent's only child (its score is fixed at 0)."""
        c = self.cptr[level - 1]
        return np.repeat(np.diff(c) == 1, np.diff(c))

    # -- persistence ----------------------------------------------------------------------
    def save(self, w: IndexWriter) -> None:
        for level, c in enumerate(self.cptr):
            w.array(CPTR.format(level), c.astype(np.int64))
        w.array(PERM, self.perm.astype(np.int32))

    @classmethod
    def load(cls, files: IndexFiles, depth: int, height: int, n_labels: int) -> HybridTree:
        cptr = tuple(files.array(CPTR.format(level)) for level in range(height))
        perm = files.array(PERM)
        t = cls(depth, cptr, perm)
        t.check(n_labels, files.path)
        return t

    def check(self, n_labels: int, where: object = "tree") -> None:
        """Raise IndexFormatError unless the arrays describe one consistent tree."""
        size = 1
        for level, c in enumerate(self.cptr):
            if c.shape != (size + 1,) or c[0] != 0 or np.any(np.diff(c) < 1):
                raise IndexFormatError(f"{where}: xmr tree level {level} is inconsistent")
            size = int(c[-1])
        if size != n_labels or self.perm.shape != (n_labels,):
            raise IndexFormatError(
                f"{where}: xmr tree holds {size} labels, the index has {n_labels}"
            )
        seen = np.zeros(n_labels, dtype=bool)
        if np.any(self.perm < 0) or np.any(self.perm >= n_labels):
            raise IndexFormatError(f"{where}: xmr tree has label ids out of range")
        seen[self.perm] = True
        if not seen.all():
            raise IndexFormatError(f"{where}: xmr tree does not hold every label exactly once")
