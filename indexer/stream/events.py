"""The log's events spread over buckets of users on disk, each event with its place in the log.

Sessionising needs a user's events together and in log order, and the distinct users of a
text add up across disjoint sets of users (`indexer.counts`): so the reading pass routes
each event to the bucket of its user (a stable hash of the id, the same in every process
and run), `chunk_rows` events at a time, one Parquet row group per bucket and chunk. Each
event carries its time part (train, dev, test: `sessions.TimeSplit`) and `seq`, its number in
that part's stream of events: two events of one user follow each other in the part's stream
exactly when their numbers do, which is all `stream.sessions` needs to cut sessions where
the whole log's `sessions.sessionize` cuts them, and the numbers put the pairs back in log
order (`stream.pairs`).
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from ..errors import LogFormatError
from ..progress import Progress, ProgressLike
from ..querylog import ReadStats, read_events
from ..sessions import TimeSplit

#: the time parts, in the order the in-memory build concatenates them (`SplitSessions.part`)
PARTS = ("train", "dev", "test")
#: events between two progress steps while a log is read
READ_STEP = 100_000

EVENTS = pa.schema(
    [
        ("part", pa.int8()),
        ("seq", pa.int64()),
        ("user", pa.string()),
        ("query", pa.string()),
        ("time", pa.float64()),
    ]
)

#: (part, seq, user, query, time); part indexes `PARTS`
BucketEvent = tuple[int, int, str, str, float]


def bucket_of(user: str, buckets: int) -> int:
    """The bucket of a user id: CRC-32 of its UTF-8 bytes (Python's `hash` differs per
    process), modulo `buckets`."""
    return zlib.crc32(user.encode("utf-8")) % buckets


def events_path(work: Path, bucket: int) -> Path:
    return work / f"events-{bucket:04d}.parquet"


@dataclass(frozen=True)
class BucketedLog:
    """What the reading pass wrote and saw.

    files: one events file per bucket, in bucket order.
    stats: the reader's counts (rows, events, duplicates, malformed).
    events: events per time part, kept or not.
    """

    files: list[Path]
    stats: ReadStats
    events: dict[str, int]


def write_buckets(
    paths: Sequence[str | os.PathLike[str]],
    work: Path,
    split: TimeSplit,
    keep: Sequence[str],
    buckets: int,
    chunk_rows: int,
    progress: ProgressLike = None,
) -> BucketedLog:
    """Read the logs once and write the events of the parts in `keep` to their buckets.

    progress: the phase "reading log" (events so far). Raises `LogFormatError` when the logs
    hold no query event (as `dataset.load_split` does).
    """
    work.mkdir(parents=True, exist_ok=True)
    stats = ReadStats()
    seq = dict.fromkeys(PARTS, 0)
    kept = {PARTS.index(k) for k in keep}
    files = [events_path(work, b) for b in range(buckets)]
    writers = [pq.ParquetWriter(f, EVENTS) for f in files]
    cols: list[list[list[object]]] = [[[] for _ in EVENTS] for _ in range(buckets)]
    held = 0

    def flush() -> None:
        for b, c in enumerate(cols):
            if c[0]:
                writers[b].write_table(pa.table(c, schema=EVENTS))
                cols[b] = [[] for _ in EVENTS]

    try:
        with Progress.of(progress).phase("reading log") as ph:
            step = 0
            for ev in read_events(paths, stats):
                name = split.part(ev.time)
                part = PARTS.index(name)
                n = seq[name]
                seq[name] = n + 1
                if part in kept:
                    c = cols[bucket_of(ev.user, buckets)]
                    for col, value in zip(c, (part, n, ev.user, ev.query, ev.time), strict=True):
                        col.append(value)
                    held += 1
                    if held >= chunk_rows:
                        flush()
                        held = 0
                step += 1
                if step == READ_STEP:
                    ph.advance(step)
                    step = 0
            flush()
            if step:
                ph.advance(step)
            if stats.events == 0:
                raise LogFormatError(
                    f"{', '.join(map(str, paths))}: no query events "
                    f"({stats.rows} rows, {stats.malformed} malformed, "
                    f"{stats.empty_queries} empty)"
                )
            ph.finish(
                f"{stats.events} events from {stats.rows} rows ({stats.duplicate_clicks} "
                f"duplicate clicks, {stats.malformed} malformed); "
                + ", ".join(f"{k} {v}" for k, v in seq.items())
                + f" -> {buckets} buckets"
            )
    finally:
        for w in writers:
            w.close()
    return BucketedLog(files, stats, seq)


def bucket_events(path: Path) -> int:
    """How many events a bucket holds (from the file's metadata)."""
    return int(pq.ParquetFile(path).metadata.num_rows)


def read_bucket(path: Path) -> Iterator[BucketEvent]:
    """A bucket's events grouped by user, each user's in (part, seq) order: the order
    `stream.sessions.bucket_sessions` reads."""
    t = pq.read_table(path).sort_by(
        [("user", "ascending"), ("part", "ascending"), ("seq", "ascending")]
    )
    cols = [t.column(name).to_pylist() for name in EVENTS.names]
    del t
    yield from zip(*cols, strict=True)
