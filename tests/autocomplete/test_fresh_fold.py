"""Fresh counts outlive their decay: a query submitted to the server's Redis, exported with
`export-fresh` and folded in with `build-index --fresh`, completes from the rebuilt index.

Real components throughout: redis-server, the CLI as a subprocess, the loaded index's ranker.
"""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

import pytest

from autocomplete.loader import load_index
from autocomplete.ranking import ANONYMOUS
from indexer.freshfile import MAGIC
from session_store.fresh import RedisFreshCounts
from tests.cluster_server import LocalCluster
from tests.redis_server import RedisServer, free_port, redis_server_fixture

from .test_cli import assert_runtime_failure, run

redis_server = redis_server_fixture(scope="module")
own_redis_server = redis_server_fixture(scope="function")

NEW = "xylophone tuning tips"  # no query of the sample log starts with "xylo"


async def submit(url: str, query: str, times: int) -> None:
    """`times` different people submit `query` (the server counts each person once)."""
    counts = RedisFreshCounts(url)
    try:
        for i in range(times):
            await counts.add(query, f"user:person-{i}")
    finally:
        await counts.close()


def texts(index: Path, prefix: str) -> list[str]:
    return [c.text for c in load_index(index).ranker.complete(ANONYMOUS, prefix, 10)]


@pytest.mark.redis
def test_a_submitted_query_completes_after_export_and_rebuild(
    tmp_path: Path, sample_log: Path, mpc_index_dir: Path, redis_server: RedisServer
) -> None:
    assert NEW not in texts(mpc_index_dir, "xylo")
    asyncio.run(submit(redis_server.url, "Xylophone  Tuning Tips", times=3))  # k-anonymous

    fresh = tmp_path / "fresh.tsv"
    x = run("export-fresh", "--redis", redis_server.url, "--out", str(fresh))
    assert x.returncode == 0, x.stderr
    assert "exported 1 fresh queries" in x.stdout
    header, row = fresh.read_text().splitlines()
    assert header.startswith(MAGIC + " 1 exported=")
    query, count = row.split("\t")
    assert query == NEW and 2.9 < float(count) <= 3.0

    out = tmp_path / "idx"
    b = run(
        "build-index", "--log", str(sample_log), "--out", str(out),
        "--model", "mpc", "--no-blend", "--quiet", "--fresh", str(fresh),
        "--min-users", "1",  # a fresh count names no users: only K = 1 lets it make a label
    )  # fmt: skip
    assert b.returncode == 0, b.stderr
    assert "folded 1 fresh queries from 1 file(s): 1 new labels" in b.stdout
    assert texts(out, "xylo") == [NEW]

    stats = load_index(out).files.manifest["stats"]["fresh"]
    assert stats["files"] == [
        {
            "file": "fresh.tsv",
            "sha256": hashlib.sha256(fresh.read_bytes()).hexdigest(),
            "rows": 1,
            "exported": header.split("exported=")[1].split()[0],
        }
    ]
    assert stats["new_labels"] == 1 and stats["added_count"] == 3


@pytest.mark.redis
def test_a_query_too_few_people_sent_is_never_exported(
    tmp_path: Path, own_redis_server: RedisServer
) -> None:
    asyncio.run(submit(own_redis_server.url, "only two people searched this", times=2))
    fresh = tmp_path / "fresh.tsv"
    x = run("export-fresh", "--redis", own_redis_server.url, "--out", str(fresh))
    assert x.returncode == 0, x.stderr
    assert fresh.read_text().splitlines()[1:] == []


def test_a_malformed_fresh_file_stops_the_build_with_one_line(
    tmp_path: Path, sample_log: Path
) -> None:
    bad = tmp_path / "fresh.tsv"
    bad.write_text(f"{MAGIC} 1 exported=2026-01-01T00:00:00Z\nweather\tlots\n")
    out = tmp_path / "idx"
    p = run(
        "build-index", "--log", str(sample_log), "--out", str(out),
        "--model", "mpc", "--no-blend", "--fresh", str(bad),
    )  # fmt: skip
    assert_runtime_failure(p, "fresh.tsv: line 2: count must be a number > 0, got 'lots'")
    assert not out.exists()


def test_a_log_instead_of_a_fresh_file_is_a_one_line_error(
    tmp_path: Path, sample_log: Path
) -> None:
    p = run(
        "build-index", "--log", str(sample_log), "--out", str(tmp_path / "idx"),
        "--fresh", str(sample_log),
    )  # fmt: skip
    assert_runtime_failure(p, "not UTF-8")


def test_export_from_an_unreachable_redis_is_a_one_line_error(tmp_path: Path) -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    out = tmp_path / "fresh.tsv"
    p = run("export-fresh", "--redis", url, "--out", str(out))
    assert_runtime_failure(p, "cannot read fresh counts")
    assert not out.exists()


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--redis", "http://localhost:6379", "--out", "f.tsv"], "redis://"),
        (["--redis", "redis://127.0.0.1:1/0", "--out", "f.tsv", "--top", "0"], "--top"),
        (["--out", "f.tsv"], "--redis"),
    ],
)
def test_bad_export_arguments_exit_2(tmp_path: Path, args: list[str], needle: str) -> None:
    p = run("export-fresh", *[str(tmp_path / a) if a == "f.tsv" else a for a in args])
    assert p.returncode == 2 and "Traceback" not in p.stderr and needle in p.stderr, p.stderr


@pytest.mark.redis
def test_export_to_a_missing_folder_is_a_one_line_error(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    p = run("export-fresh", "--redis", redis_server.url, "--out", str(tmp_path / "no" / "f.tsv"))
    assert_runtime_failure(p, "--out")


@pytest.mark.redis
@pytest.mark.cluster
def test_export_reads_the_counts_of_a_redis_cluster(
    tmp_path: Path, redis_cluster: LocalCluster
) -> None:
    redis_cluster.flush()
    asyncio.run(submit(redis_cluster.url, NEW, times=3))
    fresh = tmp_path / "fresh.tsv"
    x = run("export-fresh", "--redis", redis_cluster.url, "--out", str(fresh))
    assert x.returncode == 0, x.stderr
    assert [line.split("\t")[0] for line in fresh.read_text().splitlines()[1:]] == [NEW]
