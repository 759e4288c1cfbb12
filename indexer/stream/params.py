"""The streaming build's settings."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class StreamParams:
    """How the streaming driver holds a log (`indexer.stream.build`).

    buckets: how many buckets of users the log's events are spread over on disk (by a
        stable hash of the user id); the driver holds one bucket's events, sessions and
        pairs at a time, about 1/`buckets` of the log. >= 1. Default 16.
    chunk_rows: events read before they are written out to their buckets, and rows per
        batch when pairs are read back; bounds the reading pass's memory. >= 1.
        Default 65,536.

    Neither changes the index: only how much of the log the driver holds at once.
    """

    buckets: int = 16
    chunk_rows: int = 65_536

    def __post_init__(self) -> None:
        if self.buckets < 1:
            raise ValueError(f"buckets must be >= 1, got {self.buckets}")
        if self.chunk_rows < 1:
            raise ValueError(f"chunk_rows must be >= 1, got {self.chunk_rows}")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)
