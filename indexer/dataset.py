"""Load a log once into the split sessions every consumer needs (build, evaluate, bench)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from .errors import LogFormatError
from .progress import Phase, Progress, ProgressLike
from .querylog import QueryEvent, ReadStats, read_events
from .sessions import DEFAULT_GAP_S, Session, TimeSplit, sessionize, split_events

#: events between two progress steps while a log is read
READ_STEP = 100_000


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
    progress: ProgressLike = None,
) -> SplitSessions:
    """Read the logs, split events by time, sessionise each part; errors if nothing usable.

    progress: reports the phases "reading log" (events so far; a log's size in events is
    not known before it is read) and "sessions" (one step per time part).
    """
    report = Progress.of(progress)
    stats = ReadStats()
    with report.phase("reading log") as ph:
        parts = split_events(_counted(read_events(paths, stats), ph), split or TimeSplit())
        if stats.events == 0:
            raise LogFormatError(
                f"{', '.join(map(str, paths))}: no query events "
                f"({stats.rows} rows, {stats.malformed} malformed, {stats.empty_queries} empty)"
            )
        ph.finish(
            f"{stats.events} events from {stats.rows} rows ({stats.duplicate_clicks} duplicate "
            f"clicks, {stats.malformed} malformed); "
            + ", ".join(f"{k} {len(v)}" for k, v in parts.items())
        )
    s: dict[str, list[Session]] = {}
    with report.phase("sessions", total=len(parts)) as ph:
        for k, v in parts.items():
            s[k] = list(sessionize(v, gap_s))
            ph.advance()
        ph.finish(", ".join(f"{k} {len(v)}" for k, v in s.items()) + " sessions")
    return SplitSessions(s["train"], s["dev"], s["test"], stats)


def _counted(events: Iterable[QueryEvent], ph: Phase) -> Iterator[QueryEvent]:
    n = 0
    for ev in events:
        yield ev
        n += 1
        if n == READ_STEP:
            ph.advance(n)
            n = 0
    if n:
        ph.advance(n)
