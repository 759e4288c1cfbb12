"""The partitioned build's files: per-branch inputs (Parquet) and per-branch results (.npz).

Inputs are written by the driver in one streaming pass, a bounded chunk at a time: each
branch gets its labels (text, count) and the numbered pairs whose q_next is one of them
(position in the whole pair stream, session context, q_next), in stream order. A branch
task reads only its own two files, batch by batch. Results are one `.npz` per branch: the
branch's tree and raw level weights, written to a temporary name and renamed, so a part
either exists whole or not at all; `np.savez` stores no timestamps, so the same inputs give
the same bytes (a re-run task may skip work whose part is already there).

Every worker must see the work directory (a shared file system on a real cluster).
"""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import scipy.sparse as sp

from autocomplete.model.tree import HybridTree

from ..errors import PartitionError
from .branches import Branch, branch_of
from .examples import Item

#: rows held per branch before they are written out as one Parquet row group
CHUNK_ROWS = 65_536

PAIRS = pa.schema([("pos", pa.int64()), ("ctx", pa.list_(pa.string())), ("q", pa.string())])
LABELS = pa.schema([("text", pa.string()), ("count", pa.int64())])


def pairs_path(work: Path, b: Branch) -> Path:
    return work / f"pairs-{b.index:04d}.parquet"


def labels_path(work: Path, b: Branch) -> Path:
    return work / f"labels-{b.index:04d}.parquet"


def part_path(work: Path, b: Branch, key: str) -> Path:
    """A branch's result; `key` (a digest of the task's inputs) keeps stale parts apart."""
    return work / f"part-{b.index:04d}-{key}.npz"


def write_labels(
    work: Path, branches: Sequence[Branch], texts: Sequence[str], counts: np.ndarray
) -> None:
    for b in branches:
        table = pa.table(
            {
                "text": list(texts[b.lo : b.hi]),
                "count": np.asarray(counts[b.lo : b.hi], dtype=np.int64),
            },
            schema=LABELS,
        )
        pq.write_table(table, labels_path(work, b))


def read_labels(path: Path) -> tuple[list[str], np.ndarray]:
    t = pq.read_table(path)
    return t.column("text").to_pylist(), t.column("count").to_numpy().astype(np.int64)


class PairWriter:
    """Routes numbered pairs to their branch's Parquet file, holding at most `chunk` rows
    in all: when that many are held, every branch writes what it holds as a row group (per
    branch, they would be `chunk` times the branches, on a small log every pair at once)."""

    def __init__(
        self, work: Path, branches: Sequence[Branch], labels: set[str], chunk: int = CHUNK_ROWS
    ) -> None:
        self.branches = list(branches)
        self.labels = labels
        self.chunk = chunk
        self.rows = [0] * len(branches)
        self._held = 0
        self._buf: list[list[Item]] = [[] for _ in branches]
        self._writers = [pq.ParquetWriter(pairs_path(work, b), PAIRS) for b in branches]

    def add(self, items: Iterable[Item]) -> None:
        for item in items:
            q = item[2]
            if len(q) < 2 or q not in self.labels:  # makes no example anywhere
                continue
            i = branch_of(self.branches, q)
            if i is None:
                raise PartitionError(f"label {q!r} falls in no branch")
            self._buf[i].append(item)
            self._held += 1
            if self._held >= self.chunk:
                for b in range(len(self._buf)):
                    self._flush(b)
                self._held = 0

    def _flush(self, i: int) -> None:
        buf = self._buf[i]
        if not buf:
            return
        table = pa.table(
            {
                "pos": [p for p, _, _ in buf],
                "ctx": [list(c) for _, c, _ in buf],
                "q": [q for _, _, q in buf],
            },
            schema=PAIRS,
        )
        self._writers[i].write_table(table)
        self.rows[i] += len(buf)
        self._buf[i] = []

    def close(self) -> list[int]:
        """Flush and close every file; the rows written per branch."""
        for i in range(len(self._writers)):
            self._flush(i)
            self._writers[i].close()
        return self.rows


def read_pairs(path: Path, batch_rows: int = CHUNK_ROWS) -> Iterator[Item]:
    """A branch's numbered pairs in stream order, one record batch in memory at a time."""
    f = pq.ParquetFile(path)
    for batch in f.iter_batches(batch_size=batch_rows):
        pos = batch.column("pos").to_pylist()
        ctx = batch.column("ctx").to_pylist()
        q = batch.column("q").to_pylist()
        for p, c, t in zip(pos, ctx, q, strict=True):
            yield p, tuple(c), t


def write_part(
    path: Path, tree: HybridTree, weights: Sequence[sp.csr_matrix], stats: dict[str, Any]
) -> None:
    """One branch's result, atomically (temporary name, then rename). `stats` must be a
    function of the inputs (counts, sizes; no timings), so a part's bytes are too."""
    arrays: dict[str, np.ndarray] = {
        "perm": tree.perm.astype(np.int32),
        "depth": np.array(tree.depth, dtype=np.int64),
    }
    for level, c in enumerate(tree.cptr):
        arrays[f"cptr_{level}"] = c.astype(np.int64)
    for level, w in enumerate(weights, start=1):
        w = sp.csr_matrix(w, dtype=np.float32)
        w.sort_indices()
        arrays[f"w_{level}_data"] = w.data
        arrays[f"w_{level}_indices"] = w.indices.astype(np.int32)
        arrays[f"w_{level}_indptr"] = w.indptr.astype(np.int64)
        arrays[f"w_{level}_shape"] = np.array(w.shape, dtype=np.int64)
    arrays["stats"] = np.frombuffer(_json_bytes(stats), dtype=np.uint8)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as fh:
        # numpy's stubs read a ** mapping as if it could hold the `allow_pickle` flag
        np.savez(fh, **arrays)  # type: ignore[arg-type]
    os.replace(tmp, path)


def read_part(path: Path) -> tuple[HybridTree, list[sp.csr_matrix], dict[str, Any]]:
    """A part back: tree, raw level weights and the learned statistics it was written with;
    `PartitionError` when the file is not a whole part."""
    try:
        # numpy leaks the handle of a file it cannot parse: hold it here
        with open(path, "rb") as fh, np.load(fh, allow_pickle=False) as z:
            height = sum(1 for k in z.files if k.startswith("cptr_"))
            cptr = tuple(z[f"cptr_{level}"] for level in range(height))
            tree = HybridTree(int(z["depth"]), cptr, z["perm"])
            weights = [
                sp.csr_matrix(
                    (z[f"w_{lv}_data"], z[f"w_{lv}_indices"], z[f"w_{lv}_indptr"]),
                    shape=tuple(int(v) for v in z[f"w_{lv}_shape"]),
                )
                for lv in range(1, height + 1)
            ]
            stats = json.loads(bytes(z["stats"]).decode())
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as exc:
        raise PartitionError(f"{path}: unreadable branch part ({exc})") from None
    return tree, weights, stats


def _json_bytes(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True).encode()
