"""A small xmr index built once per session from the bundled sample log.

The settings keep the build to seconds while still exercising every piece: one trie level,
several k-means levels (branching 4, leaves of at most 16 labels), pass-through nodes, and
matcher-aware negatives.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from indexer.dataset import SplitSessions, load_split
from indexer.xmr.params import XMRParams

SMALL = XMRParams(
    depth=1,
    branching=4,
    max_leaf=16,
    max_prefix_len=4,
    newton_iters=3,
    cg_iters=6,
    kmeans_iters=4,
    workers=1,
)


@dataclass(frozen=True)
class XmrFixture:
    path: Path
    data: SplitSessions


@pytest.fixture(scope="session")
def sample_split(sample_log: Path) -> SplitSessions:
    return load_split([sample_log])


@pytest.fixture(scope="session")
def xmr_index(
    tmp_path_factory: pytest.TempPathFactory, sample_log: Path, sample_split: SplitSessions
) -> XmrFixture:
    from indexer.build import build_index
    from indexer.kanon import KAnonParams
    from indexer.params import BuildParams

    out = tmp_path_factory.mktemp("xmr") / "index"
    params = BuildParams(model="xmr", xmr=SMALL, kanon=KAnonParams.off())
    build_index([sample_log], out, params, data=sample_split)
    return XmrFixture(out, sample_split)
