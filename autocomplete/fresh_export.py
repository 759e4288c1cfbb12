"""`autocomplete export-fresh`: the server's decayed submit counts, frozen into a file.

Reads the counts the server keeps in Redis (`session_store.fresh.RedisFreshCounts`, the same
keys every worker writes) and writes them as an `indexer.freshfile` TSV, which
`autocomplete build-index --fresh FILE` folds into the next index's label counts.

Reading is one ZRANGE; an export never writes to Redis. The file is written to a temporary
sibling and renamed, so a reader never sees half of it.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from indexer.freshfile import format_fresh
from session_store.base import FRESH_HALF_LIFE_S

from .fresh import MAX_ITEMS

if TYPE_CHECKING:  # the Redis client is imported only when an export runs
    from session_store.fresh import FreshCounts


@dataclass(frozen=True)
class ExportParams:
    """What to export.

    top: the most counted queries to keep (>= 1; the server keeps at most
        `QAC_FRESH_MAX_ITEMS`, default 20,000).
    half_life_s: the decay the counts are read with; use the server's `QAC_FRESH_HALF_LIFE_S`
        (default 6 h), or the counts are decayed at the wrong rate.
    """

    top: int = MAX_ITEMS  # the server's defaults (ServerConfig.fresh_max_items, ...)
    half_life_s: float = FRESH_HALF_LIFE_S

    def __post_init__(self) -> None:
        if self.top < 1:
            raise ValueError(f"--top must be >= 1, got {self.top}")
        if not self.half_life_s > 0:
            raise ValueError(f"--half-life-s must be > 0, got {self.half_life_s}")


@dataclass(frozen=True)
class ExportReport:
    path: Path
    rows: int
    exported: float


async def read_counts(counts: FreshCounts, top: int, now: float) -> list[tuple[str, float]]:
    """The `top` most counted queries at `now`; closes `counts` either way."""
    try:
        return await counts.top(top, now)
    finally:
        await counts.close()


def write_atomic(path: Path, text: str) -> None:
    """Write `text` to `path` via a temporary sibling and a rename."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def export_fresh(
    redis_url: str,
    out: str | os.PathLike[str],
    params: ExportParams | None = None,
    now: float | None = None,
) -> ExportReport:
    """Read the counts from Redis at `now` (default: the clock) and write them to `out`.

    Raises `SessionStoreUnavailable` when Redis cannot answer, `ValueError` for a bad URL,
    `OSError` when `out` cannot be written.
    """
    from session_store.base import StoreConfig
    from session_store.fresh import FreshConfig, RedisFreshCounts

    params = params if params is not None else ExportParams()
    when = time.time() if now is None else now
    # A batch job: Redis gets far longer to answer than a keystroke would give it.
    store = StoreConfig(socket_timeout_s=10.0, connect_timeout_s=2.0, retries=1)
    config = FreshConfig(half_life_s=params.half_life_s, max_items=params.top)
    counts = RedisFreshCounts(redis_url, config, store)
    rows = asyncio.run(read_counts(counts, params.top, when))
    text = format_fresh(rows, when, params.half_life_s)
    path = Path(out)
    write_atomic(path, text)
    return ExportReport(path, text.count("\n") - 1, when)
