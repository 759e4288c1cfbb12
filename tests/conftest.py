"""Fixtures shared by every test package: the real data files and small indexes built once."""

from __future__ import annotations

from pathlib import Path

import pytest

from indexer.dataset import SplitSessions, load_split
from indexer.xmr.params import XMRParams
from tests.cluster_server import redis_cluster_fixture

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_LOG = ROOT / "data" / "sample" / "aol-sample.tsv.gz"
SHARED_DATA = ROOT.parent / "shared" / "data" / "aol"
SHARED_LOG = SHARED_DATA / "aol-top1000-2006-03-01_05-16.tsv.gz"
RAW_SAMPLE = SHARED_DATA / "aol-raw-format-sample.txt"

#: XR-Linear settings that keep a sample build to seconds while still exercising every piece:
#: one trie level, several k-means levels (branching 4, leaves of at most 16 labels),
#: pass-through nodes, and matcher-aware negatives.
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


@pytest.fixture(scope="session")
def sample_log() -> Path:
    assert SAMPLE_LOG.is_file(), "the bundled sample log is part of the repository"
    return SAMPLE_LOG


@pytest.fixture(scope="session")
def shared_log() -> Path:
    if not SHARED_LOG.is_file():
        pytest.skip(f"shared AOL log not found at {SHARED_LOG} (docs/architecture.md, Data)")
    return SHARED_LOG


@pytest.fixture(scope="session")
def raw_sample() -> Path:
    if not RAW_SAMPLE.is_file():
        pytest.skip(f"shared raw-format sample not found at {RAW_SAMPLE}")
    return RAW_SAMPLE


@pytest.fixture(scope="session")
def sample_split(sample_log: Path) -> SplitSessions:
    return load_split([sample_log])


@pytest.fixture(scope="session")
def mpc_index_dir(tmp_path_factory: pytest.TempPathFactory, sample_log: Path) -> Path:
    """An MPC index built from the training part of the bundled sample, every training query
    shared (K = 1, no bounds): the tests' expectations name the sample's own queries."""
    from indexer.build import build_index
    from indexer.kanon import KAnonParams
    from indexer.params import BuildParams

    out = tmp_path_factory.mktemp("idx") / "mpc"
    build_index([sample_log], out, BuildParams(model="mpc", kanon=KAnonParams.off()))
    return out


@pytest.fixture(scope="session")
def blend_index_dir(tmp_path_factory: pytest.TempPathFactory, sample_log: Path) -> Path:
    """The blended ranker over an MPC index, fitted on the sample's dev part (as the CLI does);
    K = 1, no bounds, as `mpc_index_dir`."""
    from autocomplete.build import build_full
    from autocomplete.fit import FitParams
    from indexer.kanon import KAnonParams
    from indexer.params import BuildParams

    out = tmp_path_factory.mktemp("idx") / "blend"
    params = BuildParams(model="mpc", kanon=KAnonParams.off())
    build_full([sample_log], out, params, fit_params=FitParams(every=8))
    return out


@pytest.fixture(scope="session")
def xmr_index_dir(tmp_path_factory: pytest.TempPathFactory, sample_log: Path) -> Path:
    """The production default: the XR-Linear model (`SMALL` settings) with the blend over
    every candidate source fitted on the sample's dev part, built as `build-index` builds it;
    K = 1, no bounds, as `mpc_index_dir`."""
    from autocomplete.build import build_full
    from autocomplete.fit import FitParams
    from indexer.kanon import KAnonParams
    from indexer.params import BuildParams

    out = tmp_path_factory.mktemp("idx") / "xmr"
    params = BuildParams(model="xmr", xmr=SMALL, kanon=KAnonParams.off())
    build_full([sample_log], out, params, fit_params=FitParams(every=8))
    return out


@pytest.fixture(scope="session")
def accented_index_dir(tmp_path_factory: pytest.TempPathFactory, shared_log: Path) -> Path:
    """An MPC index of the real rows of the shared log whose query has a non-ASCII letter or
    starts "new york" (every one shared, K = 1): the tests type them without accents, or in
    full-width letters."""
    import gzip

    from indexer.build import build_index
    from indexer.kanon import KAnonParams
    from indexer.params import BuildParams

    tmp = tmp_path_factory.mktemp("accented")
    log = tmp / "accented.tsv"
    with gzip.open(shared_log, "rt", encoding="utf-8") as src, open(log, "w") as out:
        out.write(next(src))  # AOL's header
        for line in src:
            query = line.split("\t")[1]
            if not query.isascii() or query.startswith("new york"):
                out.write(line)
    params = BuildParams(model="mpc", use_all=True, kanon=KAnonParams.off())
    build_index([log], tmp / "mpc", params)
    return tmp / "mpc"


# One Redis Cluster (3 masters, 3 replicas) for every test that only reads and writes through
# it; tests that kill a node start their own.
redis_cluster = redis_cluster_fixture(scope="session")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Browser tests last: Playwright's sync API keeps an event loop running in the main
    thread for the rest of the session, which asyncio-based tests cannot share."""
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)
