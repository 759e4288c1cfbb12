"""Building the hybrid trie-tree (`autocomplete.model.tree.HybridTree`) over sorted labels.

Levels 1..depth are trie levels on the labels' first characters; inside each trie leaf,
balanced spherical k-means (`kmeans.split`) splits down to leaves of at most `max_leaf`
labels; a trie leaf with fewer labels than the deepest one gets single-child (pass-through)
nodes right below it, so all labels sit at the same level.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp

from autocomplete.model.tree import HybridTree

from .kmeans import split


def _trie_groups(texts: list[str], ids: np.ndarray, length: int) -> list[np.ndarray]:
    """Split contiguous sorted `ids` into runs sharing text[:length] (in order)."""
    out: list[np.ndarray] = []
    start = 0
    key = texts[int(ids[0])][:length]
    for j in range(1, len(ids)):
        k = texts[int(ids[j])][:length]
        if k != key:
            out.append(ids[start:j])
            start, key = j, k
    out.append(ids[start:])
    return out


def cluster_levels(n: int, branching: int, max_leaf: int) -> int:
    """Levels below a trie leaf of n labels, the label level included."""
    if n <= max_leaf:
        return 1
    return 1 + math.ceil(math.log(n / max_leaf) / math.log(branching) - 1e-12)


def trie_leaf_sizes(texts: list[str], depth: int) -> list[int]:
    """Labels under each trie leaf (the groups sharing `text[:depth]`), in order."""
    if not texts:
        return []
    ids = np.arange(len(texts), dtype=np.int64)
    return [len(g) for g in _trie_groups(texts, ids, depth)] if depth else [len(texts)]


def tree_height(leaf_sizes: list[int], depth: int, branching: int, max_leaf: int) -> int:
    """The height of the tree whose trie leaves hold `leaf_sizes` labels: every label sits
    at this level, so a branch built alone must be given its whole tree's height."""
    return depth + max(cluster_levels(n, branching, max_leaf) for n in leaf_sizes)


def build_tree(
    texts: list[str],
    emb: sp.csr_matrix,
    *,
    depth: int,
    branching: int,
    max_leaf: int,
    iters: int = 8,
    seed: int = 0,
    height: int | None = None,
    label_offset: int = 0,
) -> HybridTree:
    """The hybrid trie-tree over sorted `texts` with label embeddings `emb` (rows = labels).

    height: None, or the height of the whole tree this is a branch of (>= its own).
    label_offset: the global label id of `texts[0]` when `texts` is a branch of a larger
        label set: it seeds each trie leaf's k-means the way the whole tree's build does.
    """
    n = len(texts)
    if n == 0:
        raise ValueError("cannot build a tree over no labels")
    if list(texts) != sorted(texts):
        raise ValueError("texts must be sorted (label ids are ranks in code-point order)")
    emb = sp.csr_matrix(emb)
    nodes: list[np.ndarray] = [np.arange(n, dtype=np.int64)]
    cptr: list[np.ndarray] = []
    for level in range(depth):
        children: list[np.ndarray] = []
        counts = []
        for ids in nodes:
            groups = _trie_groups(texts, ids, level + 1)
            children += groups
            counts.append(len(groups))
        cptr.append(np.concatenate([[0], np.cumsum(counts)]).astype(np.int64))
        nodes = children
    own = tree_height([len(ids) for ids in nodes], depth, branching, max_leaf)
    if height is None:
        height = own
    elif height < own:
        raise ValueError(f"height {height} is below the {own} these labels need")
    rngs = [np.random.default_rng([seed, label_offset + int(ids[0])]) for ids in nodes]
    for level in range(depth, height - 1):
        remaining = height - level
        cap = max_leaf * branching ** (remaining - 2)
        children = []
        counts = []
        child_rngs = []
        for ids, rng in zip(nodes, rngs, strict=True):
            k = math.ceil(len(ids) / cap)
            groups = [ids] if k <= 1 else split(emb, ids, k, iters, rng)
            children += groups
            child_rngs += [rng] * len(groups)
            counts.append(len(groups))
        cptr.append(np.concatenate([[0], np.cumsum(counts)]).astype(np.int64))
        nodes, rngs = children, child_rngs
    # last level: each leaf's labels, in label-id order
    cptr.append(np.concatenate([[0], np.cumsum([len(ids) for ids in nodes])]).astype(np.int64))
    perm = np.concatenate(nodes).astype(np.int32)
    tree = HybridTree(depth, tuple(cptr), perm)
    tree.check(n)
    return tree
