"""Fresh-count files: what `autocomplete export-fresh` writes and `build-index --fresh` reads.

The server counts the queries submitted through it, with decay (`session_store.fresh`). An
export freezes those counts into a small UTF-8 TSV, so a later build can fold them into its
label counts and the queries outlive the decay window as ordinary labels:

    # session-qac fresh-counts 1 exported=2026-11-25T16:21:41Z half_life_s=21600
    new york times<TAB>3.98
    storm prediction center<TAB>1.5

The first line names the format, its version and when the counts were read (counts are decayed
to that moment); then one row per query, most counted first. Queries are normalised
(`indexer.text.normalize_query`), so they hold no tab or newline.

Folding (`label_counts`) is pure: a decayed count becomes an integer by rounding up (a query
submitted once counts at least 1, like one row of the log), and queries that normalise alike
are summed. The build then applies its usual `min_count` to log and fresh counts together.
"""

from __future__ import annotations

import hashlib
import math
import os
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .errors import FreshFormatError
from .text import normalize_query

MAGIC = "# session-qac fresh-counts"
VERSION = 1

FreshRow = tuple[str, float]


@dataclass(frozen=True)
class FreshFile:
    """One parsed fresh-count file.

    name: the file name (no directory), as recorded in an index manifest.
    sha256: hex digest of the file's bytes.
    exported: UTC time the counts were read (ISO 8601, as in the header).
    half_life_s: the decay the counts were read with; None when the header does not say.
    rows: (normalised query, decayed count > 0), in file order.
    """

    name: str
    sha256: str
    exported: str
    half_life_s: float | None
    rows: tuple[FreshRow, ...]

    def summary(self) -> dict[str, Any]:
        """What an index manifest records about a folded file."""
        return {
            "file": self.name,
            "sha256": self.sha256,
            "rows": len(self.rows),
            "exported": self.exported,
        }


def format_fresh(rows: Iterable[FreshRow], exported: float, half_life_s: float) -> str:
    """The file text for (query, decayed count) pairs read at unix time `exported`.

    Queries are normalised; ones that normalise alike are summed; empty ones and counts that
    are not > 0 are dropped. Rows come out most counted first (ties alphabetical).
    """
    merged: dict[str, float] = {}
    for query, count in rows:
        q = normalize_query(query)
        if q and math.isfinite(count) and count > 0:
            merged[q] = merged.get(q, 0.0) + float(count)
    stamp = datetime.fromtimestamp(exported, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    lines = [f"{MAGIC} {VERSION} exported={stamp} half_life_s={half_life_s:g}"]
    lines += [f"{q}\t{c:.6g}" for q, c in sorted(merged.items(), key=lambda qc: (-qc[1], qc[0]))]
    return "\n".join(lines) + "\n"


def _header(line: str, source: str) -> tuple[str, float | None]:
    """(exported, half_life_s) from the first line; raises on anything else."""
    if not line.startswith(MAGIC + " "):
        raise FreshFormatError(
            f"{source}: line 1: not a fresh-counts file (expected a header starting "
            f"{MAGIC!r}, got {line[:60]!r}); write it with `autocomplete export-fresh`"
        )
    version, *fields = line[len(MAGIC) :].split() or [""]
    if version != str(VERSION):
        raise FreshFormatError(
            f"{source}: line 1: fresh-counts version {version!r}, this build reads {VERSION}"
        )
    meta = dict(f.partition("=")[::2] for f in fields)
    exported = meta.get("exported", "")
    try:
        datetime.fromisoformat(exported.replace("Z", "+00:00"))
    except ValueError:
        raise FreshFormatError(
            f"{source}: line 1: header needs exported=<ISO time>, got {exported!r}"
        ) from None
    half_life = meta.get("half_life_s")
    try:
        return exported, (float(half_life) if half_life is not None else None)
    except ValueError:
        raise FreshFormatError(f"{source}: line 1: bad half_life_s {half_life!r}") from None


def parse_fresh(text: str, source: str = "<fresh>") -> tuple[str, float | None, list[FreshRow]]:
    """(exported, half_life_s, rows) of a file's text; `FreshFormatError` names the line."""
    lines = text.split("\n")
    exported, half_life_s = _header(lines[0].rstrip("\r"), source)
    rows: list[FreshRow] = []
    for n, raw in enumerate(lines[1:], start=2):
        line = raw.rstrip("\r")
        if not line:
            continue
        parts = line.split("\t")
        if len(parts) != 2:
            raise FreshFormatError(
                f"{source}: line {n}: expected query<TAB>count, got {len(parts)} field(s)"
            )
        query = normalize_query(parts[0])
        if not query:
            raise FreshFormatError(f"{source}: line {n}: empty query")
        try:
            count = float(parts[1])
        except ValueError:
            count = math.nan
        if not (math.isfinite(count) and count > 0):
            raise FreshFormatError(
                f"{source}: line {n}: count must be a number > 0, got {parts[1]!r}"
            )
        rows.append((query, count))
    return exported, half_life_s, rows


def read_fresh_file(path: str | os.PathLike[str]) -> FreshFile:
    """Read and check one fresh-count file (its sha256 is of the bytes read)."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise FreshFormatError(f"{p}: no such file") from None
    except OSError as exc:
        raise FreshFormatError(f"{p}: cannot read ({exc.strerror})") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FreshFormatError(f"{p}: not UTF-8 text (byte {exc.start})") from None
    exported, half_life_s, rows = parse_fresh(text, str(p))
    return FreshFile(p.name, hashlib.sha256(data).hexdigest(), exported, half_life_s, tuple(rows))


def label_counts(rows: Iterable[FreshRow]) -> Counter[str]:
    """Integer counts to add to the training counts: per normalised query, the decayed
    counts summed, rounded up (so at least 1)."""
    summed: dict[str, float] = {}
    for query, count in rows:
        q = normalize_query(query)
        if q and count > 0:
            summed[q] = summed.get(q, 0.0) + count
    return Counter({q: max(1, math.ceil(c)) for q, c in summed.items()})


def fold_files(files: Sequence[FreshFile]) -> Counter[str]:
    """The counts of several files added together (each file rounded on its own)."""
    total: Counter[str] = Counter()
    for f in files:
        total.update(label_counts(f.rows))
    return total
