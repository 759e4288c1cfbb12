"""The buckets' counts added up on disk, key by key: only what strangers may see comes back.

Most distinct texts of a log are never shown (at K = 2, nine in ten queries of the shared
log, and more of its endings and transitions), and their counts would be most of a driver's
memory. So each bucket of users writes its counts (`indexer.counts.TrainCounts`: per key,
how often it counts and how many of the bucket's users issued it) to shards by a stable hash
of the key, one Parquet row group per bucket and shard; then each shard in turn is summed
per key (Arrow's group-by: a key's users in different buckets are different users) and only
the keys at least K users issued come back into memory, with their counts
(`kanon.SharedCounts`): the labels, endings and transitions the index holds anyway.
"""

from __future__ import annotations

import zlib
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..counts import TABLES, TrainCounts
from ..kanon import SharedCounts

#: one shard file's rows: a key, how often it counts, how many distinct users issued it
KEYS = pa.schema([("key", pa.string()), ("count", pa.int64()), ("users", pa.int64())])


def shard_path(work: Path, table: str, shard: int) -> Path:
    return work / f"{table}-{shard:04d}.parquet"


def shard_of(key: str, shards: int) -> int:
    return zlib.crc32(key.encode("utf-8")) % shards


class ShardWriter:
    """Writes buckets' counts to `shards` files per table in `work`."""

    def __init__(self, work: Path, shards: int) -> None:
        self.shards = shards
        self.work = work
        self.logged = 0
        self.counted = 0
        self._writers = {
            t: [pq.ParquetWriter(shard_path(work, t, s), KEYS) for s in range(shards)]
            for t in TABLES
        }

    def add(self, counts: TrainCounts) -> None:
        """One bucket's counts (its users in no other bucket)."""
        self.logged += counts.logged
        self.counted += counts.counted
        for table in TABLES:
            count, users = counts.table(table)
            cols: list[tuple[list[str], list[int], list[int]]] = [
                ([], [], []) for _ in range(self.shards)
            ]
            for key, n in count.items():
                keys, ns, us = cols[shard_of(key, self.shards)]
                keys.append(key)
                ns.append(n)
                us.append(users[key])
            for s, col in enumerate(cols):
                if col[0]:
                    self._writers[table][s].write_table(pa.table(list(col), schema=KEYS))

    def close(self) -> None:
        for writers in self._writers.values():
            for w in writers:
                w.close()


def shared_from_shards(
    work: Path, shards: int, min_users: int, logged: int, counted: int
) -> SharedCounts:
    """Sum every shard per key, keep the keys at least `min_users` users issued (every key
    at K = 1) with their counts, and remove the shards."""
    shown: dict[str, dict[str, int]] = {}
    distinct: dict[str, int] = {}
    for table in TABLES:
        keep: dict[str, int] = {}
        n = 0
        for s in range(shards):
            path = shard_path(work, table, s)
            summed = (
                pq.read_table(path).group_by("key").aggregate([("count", "sum"), ("users", "sum")])
            )
            path.unlink()
            n += summed.num_rows
            if min_users > 1:
                summed = summed.filter(pc.greater_equal(summed["users_sum"], min_users))
            keys = summed["key"].to_pylist()
            keep.update(zip(keys, summed["count_sum"].to_pylist(), strict=True))
        shown[table] = keep
        distinct[table] = n
    return SharedCounts.of(min_users, logged, counted, shown, distinct)
