"""The partitioned build on a real Dask cluster: the single-process index, file for file,
from the in-memory driver and from the streaming one (`indexer.stream`).

Tolerance: none. Every random draw is keyed by what it draws for (a trie leaf's first label,
a pair's position, a node's first tree position), and a branch's examples, clusters and
rankers depend on its own labels and pairs alone, so the assembled model is the
single-process model to the byte; ranking on sample keystrokes is then identical too, and
is checked as such.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from autocomplete.loader import load_index
from autocomplete.model.artifact import IndexFiles
from autocomplete.ranking import Context
from indexer.build import build_index
from indexer.dataset import SplitSessions
from indexer.errors import PartitionError
from indexer.kanon import KAnonParams
from indexer.params import BuildParams
from indexer.sessions import examples
from indexer.stream.build import build_index_streamed
from indexer.stream.params import StreamParams
from indexer.xmr.cluster import ClusterParams
from tests.conftest import SMALL

distributed = pytest.importorskip("distributed")

PARAMS = BuildParams(model="xmr", xmr=SMALL, kanon=KAnonParams.off())


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    """A real two-worker cluster the builds reach by its address, as `--scheduler` does."""
    with distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        memory_limit="1GiB",
        dashboard_address="127.0.0.1:0",  # port 8787 may be taken; no fixed port
    ) as cluster:
        yield cluster.scheduler_address


@pytest.fixture(scope="module")
def partitioned(
    tmp_path_factory: pytest.TempPathFactory,
    sample_log: Path,
    sample_split: SplitSessions,
    scheduler: str,
) -> Path:
    out = tmp_path_factory.mktemp("partitioned") / "xmr"
    cp = ClusterParams(
        partitions=3, scheduler=scheduler, work_dir=str(out.parent / "parts"), keep_parts=True
    )
    build_index([sample_log], out, PARAMS, data=sample_split, cluster=cp)
    return out


@pytest.fixture(scope="module")
def single(
    tmp_path_factory: pytest.TempPathFactory, sample_log: Path, sample_split: SplitSessions
) -> Path:
    """The single-process build of the same settings (no blend: it is fitted afterwards,
    on either index alike)."""
    out = tmp_path_factory.mktemp("single") / "xmr"
    build_index([sample_log], out, PARAMS, data=sample_split)
    return out


@pytest.fixture(scope="module")
def streamed(tmp_path_factory: pytest.TempPathFactory, sample_log: Path, scheduler: str) -> Path:
    """The partitioned build with the streaming driver (`indexer.stream`): the log read into
    buckets of users, the pairs merged back from disk, the branches on the same cluster."""
    out = tmp_path_factory.mktemp("streamed") / "xmr"
    cp = ClusterParams(partitions=3, scheduler=scheduler)
    build_index_streamed([sample_log], out, PARAMS, cp, StreamParams(buckets=4, chunk_rows=999))
    return out


def _files(path: Path) -> dict[str, str]:
    return {k: v["sha256"] for k, v in IndexFiles(path).manifest["files"].items()}


def test_the_partitioned_index_is_the_single_process_index_file_for_file(
    single: Path, partitioned: Path
) -> None:
    assert _files(partitioned) == _files(single)
    part = IndexFiles(partitioned).manifest["stats"]["xmr"]["partition"]
    assert len(part["branches"]) == 3
    assert all(b["examples"] > 0 and not b["reused"] for b in part["branches"])


def test_the_streamed_partitioned_index_is_the_single_process_index_file_for_file(
    single: Path, streamed: Path
) -> None:
    assert _files(streamed) == _files(single)
    stats = IndexFiles(streamed).manifest["stats"]
    assert stats["stream"]["buckets"] == 4 and len(stats["xmr"]["partition"]["branches"]) == 3
    assert not streamed.with_name("xmr.parts").exists()


def test_at_the_default_k_and_bounds_the_streamed_index_is_the_single_process_index(
    tmp_path: Path, sample_log: Path, sample_split: SplitSessions, scheduler: str
) -> None:
    """K = 2 with per-user bounds: hidden transitions blank q_prev in the merged pairs as
    `SharedTexts.hide_transitions` does in the list, so contexts and examples agree too."""
    params = replace(PARAMS, kanon=KAnonParams())
    build_index([sample_log], tmp_path / "single", params, data=sample_split)
    cp = ClusterParams(partitions=2, scheduler=scheduler)
    build_index_streamed([sample_log], tmp_path / "streamed", params, cp, StreamParams(3))
    assert _files(tmp_path / "streamed") == _files(tmp_path / "single")


def test_the_partitioned_index_loads_and_ranks_as_the_single_process_one(
    single: Path, partitioned: Path, sample_split: SplitSessions
) -> None:
    ours = load_index(partitioned).ranker
    theirs = load_index(single).ranker
    checked = 0
    for ex in list(examples(sample_split.dev))[::25]:
        ctx = Context(ex.context, (), ex.time)
        assert ours.complete(ctx, ex.prefix, 10) == theirs.complete(ctx, ex.prefix, 10)
        checked += 1
    assert checked > 50


def test_a_rerun_on_a_local_cluster_redoes_only_a_missing_part_to_the_same_bytes(
    partitioned: Path, sample_log: Path, sample_split: SplitSessions
) -> None:
    parts = partitioned.parent / "parts"
    first = sorted(parts.glob("part-*.npz"))
    assert len(first) == 3
    kept = {p.name: p.read_bytes() for p in first}
    first[1].unlink()
    again = partitioned.parent / "again"
    cp = ClusterParams(
        partitions=3, workers=1, worker_memory="1GiB", work_dir=str(parts), keep_parts=True
    )
    build_index([sample_log], again, PARAMS, data=sample_split, cluster=cp)
    assert {p.name: p.read_bytes() for p in sorted(parts.glob("part-*.npz"))} == kept
    assert _files(again) == _files(partitioned)
    reused = [
        b["reused"] for b in IndexFiles(again).manifest["stats"]["xmr"]["partition"]["branches"]
    ]
    assert reused == [True, False, True]
    shutil.rmtree(parts)


def test_depth_zero_has_no_branch_to_split_on(
    tmp_path: Path, sample_log: Path, sample_split: SplitSessions
) -> None:
    params = BuildParams(model="xmr", xmr=replace(SMALL, depth=0), kanon=KAnonParams.off())
    with pytest.raises(PartitionError, match="depth"):
        build_index(
            [sample_log], tmp_path / "x", params, data=sample_split, cluster=ClusterParams()
        )
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize(
    "kw",
    [
        {"partitions": 0},
        {"workers": 0},
        {"worker_memory": "lots"},
        {"scheduler": "localhost:8786"},
    ],
)
def test_cluster_settings_refuse_nonsense(kw: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        ClusterParams(**kw)
