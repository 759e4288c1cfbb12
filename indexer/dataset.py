"""Load a log once into the split sessions every consumer needs (build, evaluate, bench)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

from .errors import LogFormatError
from .querylog import ReadStats, read_events
from .sessions import DEFAULT_GAP_S, Session, TimeSplit, sessionize, split_events


@dataclass(frozen=True)
class SplitSessions:
    """Sessions of each time part; `stats` says what the reader skipped."""

    train: list[Session]
    dev: list[Session]
    test: list[Session]
    stats: ReadStats

    def part(self, name: str) -> list[Session]:
        if name not in ("train", "dev", "test", "all"):
            raise ValueError(f"unknown split part {name!r}; expected train, dev, test or all")
        if name == "all":
            return self.train + self.dev + self.test
        return getattr(self, name)  # type: ignore[no-any-return]


def load_split(
    paths: Sequence[str | os.PathLike[str]],
    split: TimeSplit | None = None,
    gap_s: float = DEFAULT_GAP_S,
) -> SplitSessions:
    """Read the logs, split events by time, sessionise each part; errors if nothing usable."""
    stats = ReadStats()
    parts = split_events(read_events(paths, stats), split or TimeSplit())
    if stats.events == 0:
        raise LogFormatError(
            f"{', '.join(map(str, paths))}: no query events "
            f"({stats.rows} rows, {stats.malformed} malformed, {stats.empty_queries} empty)"
        )
    s = {k: list(sessionize(v, gap_s)) for k, v in parts.items()}
    return SplitSessions(s["train"], s["dev"], s["test"], stats)
