"""The streaming driver: buckets of users give the whole log's sessions, pairs and counts, and
the index of the in-memory build, file for file, whatever the log's order and bucket count.

The XR-Linear side (the partitioned training fed by the merged pairs) is checked in
`tests/xmr/test_partition.py`; here the mpc index covers labels, endings, transitions and
k-anonymity, which is everything the driver itself decides.
"""

from __future__ import annotations

import zlib
from collections import Counter
from pathlib import Path

import pytest

from autocomplete.model.artifact import IndexFiles
from indexer.build import build_index
from indexer.counts import TrainCounts, label_transitions
from indexer.dataset import load_split
from indexer.errors import LogFormatError
from indexer.kanon import KAnonParams, bound_contributions, shared_counts
from indexer.params import BuildParams
from indexer.querylog import read_events
from indexer.sessions import TimeSplit, pairs, sessionize, split_events
from indexer.stream.build import build_index_streamed
from indexer.stream.events import PARTS, read_bucket, write_buckets
from indexer.stream.pairs import merged_pairs, pairs_path, write_pairs
from indexer.stream.params import StreamParams
from indexer.stream.sessions import bucket_sessions, numbered_pairs
from indexer.stream.shards import ShardWriter, shared_from_shards
from indexer.xmr.build import transitions
from indexer.xmr.cluster import ClusterParams

Row = tuple[str, str, str]  # user, query, "YYYY-MM-DD HH:MM:SS"


def write_log(path: Path, rows: list[Row]) -> Path:
    """An AOL-format log with the rows in the order given (not sorted: the driver must
    follow the file's order, as `sessions.sessionize` does)."""
    lines = ["AnonID\tQuery\tQueryTime\tItemRank\tClickURL"]
    lines += [f"{u}\t{q}\t{t}\t\t" for u, q, t in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def at(d: int, minute: int, month: int = 3) -> str:
    return f"2006-{month:02d}-{d:02d} 10:{minute:02d}:00"


#: a log the way real ones go wrong: users interleaved, a user's events out of time order,
#: re-issued queries, a user coming back after another, events in every time part
AWKWARD: list[Row] = [
    ("1", "weather", at(1, 0)),
    ("1", "weather boston", at(1, 1)),
    ("2", "weather", at(1, 1)),  # interleaved: user 1's session ends here
    ("1", "news", at(1, 2)),  # same user again within the gap: a new session all the same
    ("1", "news", at(1, 3)),  # re-issued: no new query
    ("1", "weather boston", at(1, 4)),
    ("2", "news", at(1, 5)),
    ("2", "weather boston", at(1, 3)),  # time runs backwards: a new session
    ("2", "news", at(1, 20)),
    ("3", "weather", at(2, 0)),
    ("3", "news", at(2, 1)),
    ("3", "weather boston", at(2, 59)),  # past the 30-minute gap
    ("1", "weather", at(3, 0)),
    ("1", "weather", at(3, 1)),
    ("1", "my secret", at(3, 2)),
    ("2", "news", at(2, 0, month=5)),  # dev
    ("2", "weather", at(2, 1, month=5)),
    ("4", "news", at(3, 0, month=5)),  # dev, a user without training sessions
    ("3", "news", at(10, 0, month=5)),  # test
]


def _files(path: Path) -> dict[str, str]:
    return {k: v["sha256"] for k, v in IndexFiles(path).manifest["files"].items()}


def _bucketed_sessions(log: Path, work: Path, buckets: int) -> dict[str, list[tuple]]:
    written = write_buckets([log], work, TimeSplit(), PARTS, buckets, chunk_rows=7)
    got: dict[str, list[tuple]] = {p: [] for p in PARTS}
    for path in written.files:
        for ns in bucket_sessions(read_bucket(path), 30 * 60):
            got[PARTS[ns.part]].append((ns.order, ns.session))
    return {p: [s for _, s in sorted(v, key=lambda x: x[0])] for p, v in got.items()}


@pytest.mark.parametrize("buckets", [1, 2, 5])
def test_bucketed_sessions_in_log_order_are_the_whole_logs_sessions_of_an_awkward_log(
    tmp_path: Path, buckets: int
) -> None:
    log = write_log(tmp_path / "log.tsv", AWKWARD)
    parts = split_events(read_events([log]), TimeSplit())
    want = {p: list(sessionize(parts[p])) for p in PARTS}
    assert _bucketed_sessions(log, tmp_path / "work", buckets) == want
    assert len(want["train"]) == 8


def test_bucketed_sessions_of_the_sample_are_its_sessions(tmp_path: Path, sample_log: Path) -> None:
    data = load_split([sample_log])
    got = _bucketed_sessions(sample_log, tmp_path, 7)
    assert (got["train"], got["dev"], got["test"]) == (data.train, data.dev, data.test)


def test_pairs_merged_from_buckets_come_back_in_the_logs_order(
    tmp_path: Path, sample_log: Path
) -> None:
    written = write_buckets([sample_log], tmp_path, TimeSplit(), ("train",), 4, chunk_rows=500)
    for b, path in enumerate(written.files):
        numbered = numbered_pairs(bucket_sessions(read_bucket(path), 30 * 60))
        write_pairs(pairs_path(tmp_path, b), ((o, p[0], p[1]) for o, p in numbered), 100)
    paths = [pairs_path(tmp_path, b) for b in range(4)]
    want = [(p, q) for p, q, _, _ in pairs(load_split([sample_log]).train)]
    assert list(merged_pairs(paths, 64)) == want


@pytest.mark.parametrize("k", [1, 2, 3])
def test_counts_summed_on_disk_over_disjoint_users_are_the_shared_counts_of_all_pairs(
    tmp_path: Path, sample_log: Path, k: int
) -> None:
    train = load_split([sample_log]).train
    kanon = KAnonParams(min_users=k)
    logged = list(pairs(train))
    want = shared_counts(TrainCounts.of(len(logged), bound_contributions(logged, kanon)), k)
    writer = ShardWriter(tmp_path, 3)
    for third in range(3):
        mine = list(pairs(s for s in train if zlib.crc32(s.user.encode()) % 3 == third))
        writer.add(TrainCounts.of(len(mine), bound_contributions(mine, kanon)))
    writer.close()
    got = shared_from_shards(tmp_path, 3, k, writer.logged, writer.counted)
    assert got == want
    assert not any(tmp_path.iterdir())
    assert want.counted < want.logged and 0 < len(want.queries) <= want.texts.distinct["queries"]


@pytest.mark.parametrize("k,every", [(1, 3), (2, 1)])
def test_label_transitions_from_counts_are_the_matrix_from_pairs(
    sample_log: Path, k: int, every: int
) -> None:
    raw = list(pairs(load_split([sample_log]).train))
    shared = shared_counts(TrainCounts.of(len(raw), raw), k)
    texts = sorted({q for _, q, _, _ in raw})[::every]
    got = label_transitions(shared.transitions, texts)
    want = transitions(shared.texts.hide_transitions(raw), texts)
    assert got.nnz > 0
    for a, b in ((got.data, want.data), (got.indices, want.indices), (got.indptr, want.indptr)):
        assert a.dtype == b.dtype and a.tobytes() == b.tobytes()


@pytest.mark.parametrize(
    "kanon",
    [KAnonParams.off(), KAnonParams(min_users=2), KAnonParams(2, 1, 2)],
    ids=["off", "k2", "k2-tight-bounds"],
)
@pytest.mark.parametrize("use_all", [False, True], ids=["train", "all"])
def test_the_streamed_index_of_an_awkward_log_is_the_in_memory_index(
    tmp_path: Path, kanon: KAnonParams, use_all: bool
) -> None:
    log = write_log(tmp_path / "log.tsv", AWKWARD)
    params = BuildParams(model="mpc", kanon=kanon, use_all=use_all)
    build_index([log], tmp_path / "memory", params)
    built = build_index_streamed(
        [log], tmp_path / "stream", params, stream=StreamParams(3, 4), history=list
    )
    assert _files(tmp_path / "stream") == _files(tmp_path / "memory")
    ours = IndexFiles(tmp_path / "stream").manifest["stats"]
    theirs = IndexFiles(tmp_path / "memory").manifest["stats"]
    assert ours.pop("stream")["buckets"] == 3
    assert ours == theirs
    assert not (tmp_path / "stream.parts").exists()
    data = load_split([log])
    assert built.blend_data.dev == data.dev
    dev_users = {s.user for s in data.dev}
    assert built.blend_data.train == [s for s in data.train if s.user in dev_users]


def test_the_streamed_index_of_the_sample_is_the_in_memory_index_at_the_defaults(
    tmp_path: Path, sample_log: Path
) -> None:
    params = BuildParams(model="mpc")
    build_index([sample_log], tmp_path / "memory", params)
    build_index_streamed([sample_log], tmp_path / "stream", params, stream=StreamParams(6))
    assert _files(tmp_path / "stream") == _files(tmp_path / "memory")


def test_the_bucket_count_and_chunk_size_do_not_change_the_index(tmp_path: Path) -> None:
    log = write_log(tmp_path / "log.tsv", AWKWARD)
    params = BuildParams(model="mpc", kanon=KAnonParams.off())
    seen = set()
    for buckets, chunk in ((1, 1), (4, 3), (16, 1000)):
        out = tmp_path / f"b{buckets}"
        build_index_streamed([log], out, params, stream=StreamParams(buckets, chunk))
        seen.add(IndexFiles(out).version)
    assert len(seen) == 1


def test_a_log_without_training_sessions_is_a_clear_error_and_leaves_nothing(
    tmp_path: Path,
) -> None:
    log = write_log(tmp_path / "log.tsv", [("1", "news", at(2, 0, month=5))])
    with pytest.raises(LogFormatError, match="no training sessions"):
        build_index_streamed([log], tmp_path / "idx", BuildParams(model="mpc"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["log.tsv"]


def test_a_log_without_events_is_a_clear_error(tmp_path: Path) -> None:
    log = write_log(tmp_path / "log.tsv", [])
    with pytest.raises(LogFormatError, match="no query events"):
        build_index_streamed([log], tmp_path / "idx", BuildParams(model="mpc"))


def test_xmr_needs_a_cluster_to_stream() -> None:
    with pytest.raises(ValueError, match="cluster"):
        build_index_streamed([], "x", BuildParams(model="xmr"))


def test_a_work_directory_that_was_there_is_kept_and_only_the_buckets_are_removed(
    tmp_path: Path,
) -> None:
    log = write_log(tmp_path / "log.tsv", AWKWARD)
    work = tmp_path / "work"
    work.mkdir()
    cp = ClusterParams(work_dir=str(work))
    build_index_streamed([log], tmp_path / "idx", BuildParams(model="mpc"), cp)
    assert work.is_dir() and not any(work.iterdir())


@pytest.mark.parametrize("kw", [{"buckets": 0}, {"chunk_rows": 0}])
def test_stream_settings_refuse_nonsense(kw: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        StreamParams(**kw)


def test_every_part_is_numbered_in_its_own_stream(tmp_path: Path) -> None:
    log = write_log(tmp_path / "log.tsv", AWKWARD)
    written = write_buckets([log], tmp_path / "w", TimeSplit(), PARTS, 3, chunk_rows=2)
    seqs: Counter[tuple[int, int]] = Counter()
    for path in written.files:
        for part, seq, *_ in read_bucket(path):
            seqs[(part, seq)] += 1
    assert written.events == {"train": 15, "dev": 3, "test": 1}
    assert sorted(seqs) == [(p, s) for p, n in enumerate((15, 3, 1)) for s in range(n)]
