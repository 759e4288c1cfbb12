"""The counted training pairs of each bucket on disk, and all of them merged back in log order.

The XR-Linear examples depend on the order of the pairs (a pair's session context is rebuilt
from the pairs before it, and its sampled long prefix is keyed by its position in the whole
stream: `indexer.xmr.examples`). Each bucket writes its counted pairs sorted by `order`
(`stream.sessions.numbered_pairs`), and `merged_pairs` reads every bucket's file a batch at
a time and merges them by it: the in-memory build's pair list, one batch per bucket in
memory.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

PAIRS = pa.schema([("order", pa.int64()), ("prev", pa.string()), ("q", pa.string())])

#: (order, q_prev, q_next)
OrderedPair = tuple[int, str, str]


def pairs_path(work: Path, bucket: int) -> Path:
    return work / f"pairs-{bucket:04d}.parquet"


def write_pairs(path: Path, pairs: Iterable[OrderedPair], chunk_rows: int) -> int:
    """Write a bucket's pairs sorted by order, `chunk_rows` per row group; returns the rows."""
    rows = sorted(pairs)
    with pq.ParquetWriter(path, PAIRS) as w:
        for i in range(0, len(rows), chunk_rows):
            part = rows[i : i + chunk_rows]
            w.write_table(
                pa.table(
                    [[r[0] for r in part], [r[1] for r in part], [r[2] for r in part]],
                    schema=PAIRS,
                )
            )
    return len(rows)


def read_pairs(path: Path, chunk_rows: int) -> Iterator[OrderedPair]:
    f = pq.ParquetFile(path)
    for batch in f.iter_batches(batch_size=chunk_rows):
        cols = [batch.column(name).to_pylist() for name in PAIRS.names]
        yield from zip(*cols, strict=True)


def merged_pairs(paths: Sequence[Path], chunk_rows: int) -> Iterator[tuple[str, str]]:
    """(q_prev, q_next) of every bucket's pairs, in the log's order."""
    for _, prev, q in heapq.merge(*(read_pairs(p, chunk_rows) for p in paths)):
        yield prev, q
