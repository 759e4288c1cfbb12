"""Top-level branches: planned contiguous and balanced, assembled into the whole tree."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from autocomplete.model.featurizer import Featurizer, FeaturizerParams
from indexer.errors import PartitionError
from indexer.xmr.branches import (
    assemble_tree,
    assemble_weights,
    branch_of,
    example_weight,
    leading_runs,
    plan_branches,
)
from indexer.xmr.tree import build_tree, tree_height, trie_leaf_sizes

TEXTS = sorted(
    {
        *(f"a{i:02d}" for i in range(30)),
        *(f"b{i:02d}" for i in range(5)),
        "c",
        "ca",
        *(f"d{i:03d}" for i in range(70)),
        "e1",
        "e2",
    }
)


def test_branches_are_contiguous_runs_of_whole_first_characters() -> None:
    weights = {"a": 300.0, "b": 10.0, "c": 5.0, "d": 700.0, "e": 2.0}
    bs = plan_branches(TEXTS, weights, 3)
    assert [b.index for b in bs] == list(range(len(bs)))
    assert bs[0].lo == 0 and bs[-1].hi == len(TEXTS)
    assert all(a.hi == b.lo for a, b in zip(bs, bs[1:], strict=False))
    for b in bs:
        assert {t[0] for t in TEXTS[b.lo : b.hi]} == {
            c for c, _, _ in leading_runs(TEXTS) if b.first <= c <= b.last
        }
    # the heavy "d" is never split, and sits alone
    (d,) = [b for b in bs if b.first <= "d" <= b.last]
    assert d.first == d.last == "d"


def test_more_partitions_than_first_characters_gives_one_branch_each() -> None:
    bs = plan_branches(TEXTS, {}, 50)
    assert [(b.first, b.last) for b in bs] == [(c, c) for c in "abcde"]


def test_branch_of_finds_the_branch_holding_a_text() -> None:
    bs = plan_branches(TEXTS, {"a": 100.0, "d": 100.0}, 2)
    for i, t in enumerate(TEXTS):
        b = bs[branch_of(bs, t)]  # type: ignore[index]
        assert b.lo <= i < b.hi
    assert branch_of(bs, "") is None
    assert branch_of(bs, "zebra") is None


def test_example_weight_counts_the_prefixes_a_query_makes() -> None:
    assert example_weight("a", 8) == 0
    assert example_weight("abc", 8) == 2
    assert example_weight("abcdefghijklmn", 8) == 9  # 8 short prefixes and one sampled


def test_planning_refuses_nonsense() -> None:
    with pytest.raises(ValueError):
        plan_branches(TEXTS, {}, 0)
    with pytest.raises(PartitionError):
        plan_branches([], {}, 2)
    with pytest.raises(PartitionError):
        leading_runs(["", "a"])


@pytest.mark.parametrize("depth", [1, 2])
def test_branch_trees_assemble_into_the_whole_tree(depth: int) -> None:
    """Each branch built alone (with the whole height and its label offset) and assembled
    equals the tree built over every label at once, array for array."""
    emb = Featurizer.fit(FeaturizerParams(), TEXTS).embed_texts(TEXTS)
    kw = dict(depth=depth, branching=2, max_leaf=4, iters=4, seed=3)
    whole = build_tree(TEXTS, emb, **kw)  # type: ignore[arg-type]
    height = tree_height(trie_leaf_sizes(TEXTS, depth), depth, 2, 4)
    assert height == whole.height
    bs = plan_branches(TEXTS, {}, 3)
    trees = [
        build_tree(TEXTS[b.lo : b.hi], emb[b.lo : b.hi], height=height, label_offset=b.lo, **kw)  # type: ignore[arg-type]
        for b in bs
    ]
    got = assemble_tree(depth, trees, [b.lo for b in bs])
    assert got.height == whole.height
    assert all(np.array_equal(a, b) for a, b in zip(got.cptr, whole.cptr, strict=True))
    assert np.array_equal(got.perm, whole.perm)


def test_a_branch_below_the_whole_height_is_refused() -> None:
    emb = Featurizer.fit(FeaturizerParams(), TEXTS).embed_texts(TEXTS)
    with pytest.raises(ValueError, match="height"):
        build_tree(TEXTS, emb, depth=1, branching=2, max_leaf=4, height=2)


def test_weights_stack_by_branch_and_a_trained_root_is_refused() -> None:
    a = [sp.csr_matrix((2, 5), dtype=np.float32), sp.csr_matrix(np.ones((3, 5), np.float32))]
    b = [sp.csr_matrix((1, 5), dtype=np.float32), sp.csr_matrix(2 * np.ones((2, 5), np.float32))]
    w = assemble_weights([a, b], 5)
    assert [m.shape for m in w] == [(3, 5), (5, 5)]
    assert w[1].toarray()[3:].tolist() == [[2.0] * 5] * 2
    with pytest.raises(PartitionError, match="root"):
        assemble_weights([[sp.csr_matrix(np.ones((1, 5)))], [sp.csr_matrix((1, 5))]], 5)
