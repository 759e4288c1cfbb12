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


def build_tree(
    texts: list[str],
    emb: sp.csr_matrix,
    *,
    depth: int,
    branching: int,
    max_leaf: int,
    iters: int = 8,
    seed: int = 0,
) -> HybridTree:
    """The hybrid trie-tree over sorted `texts` with label embeddings `emb` (rows = labels)."""
    n = len(texts)
    if n == 0:
        raise ValueError("cannot build a tree over no labels")
    if list(texts) != sorted(texts):
        raise ValueError("texts must be sorted (label ids are ranks in code-point order)")
    rng = np.random.default_rng(seed)
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
    height = depth + max(cluster_levels(len(ids), branching, max_leaf) for ids in nodes)
    for level in range(depth, height - 1):
        remaining = height - level
        cap = max_leaf * branching ** (remaining - 2)
        children = []
        counts = []
        for ids in nodes:
            k = math.ceil(len(ids) / cap)
            groups = [ids] if k <= 1 else split(emb, ids, k, iters, rng)
            children += groups
            counts.append(len(groups))
        cptr.append(np.concatenate([[0], np.cumsum(counts)]).astype(np.int64))
        nodes = children
    # last level: each leaf's labels, in label-id order
    cptr.append(np.concatenate([[0], np.cumsum([len(ids) for ids in nodes])]).astype(np.int64))
    perm = np.concatenate(nodes).astype(np.int32)
    tree = HybridTree(depth, tuple(cptr), perm)
    tree.check(n)
    return tree
