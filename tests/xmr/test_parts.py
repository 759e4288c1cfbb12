"""The partitioned build's files: pairs streamed to Parquet by branch, parts written whole."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from autocomplete.model.tree import HybridTree
from indexer.errors import PartitionError
from indexer.xmr.branches import plan_branches
from indexer.xmr.examples import examples_from, numbered_contexts, sampled_length
from indexer.xmr.params import XMRParams
from indexer.xmr.parts import PairWriter, pairs_path, read_pairs, read_part, write_part

TEXTS = sorted(["apple", "apple pie", "banana", "bread", "cherry", "cola"])
PAIRS = [
    ("", "apple"),
    ("apple", "apple pie"),
    ("apple pie", "banana"),
    ("", "cola"),
    ("cola", "cherry"),
    ("cherry", "unknown"),
    ("unknown", "bread"),
    ("", "banana"),
]


def test_pairs_go_to_their_branch_in_stream_order_a_chunk_at_a_time(tmp_path: Path) -> None:
    bs = plan_branches(TEXTS, {}, 3)
    items = list(numbered_contexts(PAIRS, 2))
    w = PairWriter(tmp_path, bs, set(TEXTS), chunk=1)
    w.add(items)
    rows = w.close()
    back = [list(read_pairs(pairs_path(tmp_path, b), batch_rows=1)) for b in bs]
    assert rows == [len(r) for r in back]
    # non-labels make no example anywhere and are not written
    assert sum(rows) == sum(q in TEXTS for _, _, q in items)
    for b, got in zip(bs, back, strict=True):
        assert got == [it for it in items if it[2] in TEXTS and b.holds(it[2])]


def test_a_branch_makes_the_examples_the_whole_stream_makes_for_its_labels() -> None:
    """Same prefixes (the sampled one too), contexts and weights, ids shifted by the offset."""
    xp = XMRParams(max_prefix_len=2)
    items = list(numbered_contexts(PAIRS * 3, 2))
    whole = examples_from(items, TEXTS, xp)
    lo, hi = 2, 4  # "banana", "bread"
    part = examples_from([it for it in items if it[2][0] == "b"], TEXTS[lo:hi], xp)
    keep = (whole.targets >= lo) & (whole.targets < hi)
    assert [p for p, k in zip(whole.prefixes, keep, strict=True) if k] == part.prefixes
    assert [c for c, k in zip(whole.contexts, keep, strict=True) if k] == part.contexts
    assert np.array_equal(whole.targets[keep] - lo, part.targets)
    assert np.array_equal(whole.weights[keep], part.weights)
    assert np.array_equal(whole.lo[keep] - lo, part.lo)


def test_sampled_length_is_a_function_of_seed_and_position() -> None:
    draws = [sampled_length(0, pos, 9, 20) for pos in range(200)]
    assert draws == [sampled_length(0, pos, 9, 20) for pos in range(200)]
    assert min(draws) == 9 and max(draws) == 19
    assert draws != [sampled_length(1, pos, 9, 20) for pos in range(200)]


def _tree() -> HybridTree:
    return HybridTree(1, (np.array([0, 2]), np.array([0, 1, 3])), np.array([0, 2, 1], np.int32))


def test_a_part_round_trips_and_has_the_same_bytes_when_written_again(tmp_path: Path) -> None:
    ws = [sp.csr_matrix((2, 4), dtype=np.float32), sp.random(3, 4, 0.5, "csr", np.float32, 0)]
    a, b = tmp_path / "a.npz", tmp_path / "b.npz"
    write_part(a, _tree(), ws, {"examples": 7})
    write_part(b, _tree(), ws, {"examples": 7})
    assert a.read_bytes() == b.read_bytes()
    tree, back, stats = read_part(a)
    assert np.array_equal(tree.perm, _tree().perm) and tree.depth == 1
    assert all((x != y).nnz == 0 for x, y in zip(back, ws, strict=True))
    assert stats == {"examples": 7}
    assert not list(tmp_path.glob(".*tmp"))  # written under a temporary name, then renamed


def test_a_truncated_part_is_refused(tmp_path: Path) -> None:
    p = tmp_path / "p.npz"
    write_part(p, _tree(), [sp.csr_matrix((2, 4)), sp.csr_matrix((3, 4))], {})
    p.write_bytes(p.read_bytes()[:100])
    with pytest.raises(PartitionError, match="unreadable"):
        read_part(p)
