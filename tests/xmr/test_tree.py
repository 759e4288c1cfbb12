"""Balanced spherical k-means and the hybrid trie-tree built from it."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from autocomplete.model.errors import IndexFormatError
from autocomplete.model.featurizer import Featurizer, FeaturizerParams
from autocomplete.model.tree import HybridTree
from indexer.xmr.kmeans import bisect, split
from indexer.xmr.tree import build_tree, cluster_levels


def _blobs(n_per: int, rng: np.random.Generator) -> sp.csr_matrix:
    centers = np.eye(4)
    rows = [centers[i] + 0.05 * rng.random(4) for i in range(4) for _ in range(n_per)]
    x = np.array(rows)
    return sp.csr_matrix(x / np.linalg.norm(x, axis=1, keepdims=True))


def test_bisect_is_balanced_and_separates_clear_clusters() -> None:
    emb = _blobs(10, np.random.default_rng(0))  # rows 0-19 near axes 0/1, 20-39 near 2/3
    mask = bisect(emb, 20, iters=10, rng=np.random.default_rng(1))
    assert mask.sum() == 20
    groups = {frozenset(np.flatnonzero(mask) // 10), frozenset(np.flatnonzero(~mask) // 10)}
    assert all(len(g) == 2 for g in groups)  # whole blobs stay together


def test_split_sizes_and_determinism() -> None:
    emb = _blobs(25, np.random.default_rng(0))
    ids = np.arange(100)
    a = split(emb, ids, 3, iters=5, rng=np.random.default_rng(7))
    b = split(emb, ids, 3, iters=5, rng=np.random.default_rng(7))
    assert [len(g) for g in a] == [33, 33, 34]
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert np.array_equal(np.sort(np.concatenate(a)), ids)


TEXTS = sorted(
    {
        "a",
        "ab",
        "abc",
        "abd",
        "b",
        "ba",
        "bat",
        "bath",
        "bc",
        "c",
        "ca",
        "cab",
        "cat",
        "d",
        *(f"x{i:03d}" for i in range(60)),
    }
)


def _tree(depth: int, max_leaf: int = 8, branching: int = 2) -> HybridTree:
    f = Featurizer.fit(FeaturizerParams(), TEXTS)
    return build_tree(
        TEXTS,
        f.embed_texts(TEXTS),
        depth=depth,
        branching=branching,
        max_leaf=max_leaf,
        iters=4,
        seed=0,
    )


@pytest.mark.parametrize("depth", [0, 1, 2, 3])
def test_tree_is_uniform_and_holds_every_label_once(depth: int) -> None:
    t = _tree(depth)
    assert sorted(t.perm.tolist()) == list(range(len(TEXTS)))
    assert t.level_size(t.height) == len(TEXTS)  # all labels on the last level
    groups: dict[str, int] = {}
    for text in TEXTS:
        groups[text[:depth]] = groups.get(text[:depth], 0) + 1
    assert t.height == depth + max(cluster_levels(n, 2, 8) for n in groups.values())
    spans = t.spans()
    # every lowest k-means node holds at most max_leaf labels
    assert int(np.diff(spans[t.height - 1]).max()) <= 8
    # every node's labels are one contiguous run of tree positions
    anc = t.ancestors()
    for level in range(t.height + 1):
        assert np.all(np.diff(anc[level]) >= 0)


@pytest.mark.parametrize("depth", [1, 2])
def test_trie_levels_group_labels_by_first_characters(depth: int) -> None:
    t = _tree(depth)
    anc = t.ancestors()
    pos = np.empty(len(TEXTS), dtype=np.int64)
    pos[t.perm] = np.arange(len(TEXTS))
    for level in range(1, depth + 1):
        node_of = {}
        for i, text in enumerate(TEXTS):
            node_of.setdefault(text[:level], set()).add(int(anc[level][pos[i]]))
        assert all(len(v) == 1 for v in node_of.values())  # one node per prefix
        assert len({min(v) for v in node_of.values()}) == len(node_of)  # and distinct ones


def test_validity_keys_answer_node_holds_range() -> None:
    t = _tree(1)
    keys = t.validity_keys()
    anc = t.ancestors()
    n = len(TEXTS)
    lo, hi = TEXTS.index("b"), TEXTS.index("c")
    for level in range(t.height):
        for node in range(t.level_size(level)):
            held = set(t.perm[anc[level] == node].tolist())
            want = any(lo <= i < hi for i in held)
            k0 = node * (n + 1)
            got = np.searchsorted(keys[level], k0 + hi) > np.searchsorted(keys[level], k0 + lo)
            assert bool(got) == want


def test_check_rejects_inconsistent_arrays() -> None:
    t = _tree(1)
    bad = HybridTree(t.depth, t.cptr, np.zeros_like(t.perm))
    with pytest.raises(IndexFormatError):
        bad.check(len(TEXTS))
    with pytest.raises(IndexFormatError):
        t.check(len(TEXTS) + 1)


def test_unsorted_texts_are_refused() -> None:
    with pytest.raises(ValueError, match="sorted"):
        build_tree(["b", "a"], sp.identity(2, format="csr"), depth=1, branching=2, max_leaf=4)
