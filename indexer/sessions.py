"""Sessions, the time split, and the (q_prev, prefix, q_next) examples built from them.

Pure functions over `QueryEvent` streams. A session is one user's run of queries with no gap
longer than `gap_s`. Splitting is by *time* (train on the earlier weeks, test on the later),
never by random rows: a random split leaks a user's future into training.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime

from .querylog import QueryEvent

DEFAULT_GAP_S = 30 * 60


@dataclass(frozen=True)
class Session:
    """One user's consecutive queries; `times` are unix seconds, same length as `queries`."""

    user: str
    queries: tuple[str, ...]
    times: tuple[float, ...]


@dataclass(frozen=True)
class Example:
    """One keystroke to score: the previous query (or ""), the typed prefix, the target."""

    prev: str
    prefix: str
    target: str
    user: str = ""
    time: float = 0.0
    #: the session's earlier queries, most recent last (prev == context[-1] when non-empty)
    context: tuple[str, ...] = ()


@dataclass(frozen=True)
class TimeSplit:
    """Date boundaries (UTC, inclusive start): train < dev_start <= dev < test_start <= test."""

    dev_start: date = date(2006, 5, 1)
    test_start: date = date(2006, 5, 9)

    def part(self, t: float) -> str:
        if t < _ts(self.dev_start):
            return "train"
        if t < _ts(self.test_start):
            return "dev"
        return "test"


def _ts(d: date) -> float:
    return datetime(d.year, d.month, d.day, tzinfo=UTC).timestamp()


def sessionize(events: Iterable[QueryEvent], gap_s: float = DEFAULT_GAP_S) -> Iterator[Session]:
    """Group time-ordered events into sessions (same user, gap <= gap_s).

    Re-issuing the query just issued (AOL logs a result-page view that way) is collapsed:
    the user did not type it again, so it is neither a target nor a new previous query.
    Events must come grouped by user and sorted by time within a user, as AOL logs are;
    an out-of-order event starts a new session rather than corrupting one.
    """
    user: str | None = None
    qs: list[str] = []
    ts: list[float] = []
    for ev in events:
        if ev.user != user or not ts or ev.time - ts[-1] > gap_s or ev.time < ts[-1]:
            if qs:
                yield Session(user or "", tuple(qs), tuple(ts))
            user, qs, ts = ev.user, [ev.query], [ev.time]
            continue
        if ev.query == qs[-1]:
            ts[-1] = ev.time
            continue
        qs.append(ev.query)
        ts.append(ev.time)
    if qs:
        yield Session(user or "", tuple(qs), tuple(ts))


def split_events(events: Iterable[QueryEvent], split: TimeSplit) -> dict[str, list[QueryEvent]]:
    """Partition events by time into "train", "dev" and "test" (order kept)."""
    parts: dict[str, list[QueryEvent]] = {"train": [], "dev": [], "test": []}
    for ev in events:
        parts[split.part(ev.time)].append(ev)
    return parts


def pairs(sessions: Iterable[Session]) -> Iterator[tuple[str, str, str, float]]:
    """(q_prev, q_next, user, time) for every query of every session; q_prev="" for the first."""
    for s in sessions:
        prev = ""
        for q, t in zip(s.queries, s.times, strict=True):
            yield prev, q, s.user, t
            prev = q


def examples(sessions: Iterable[Session], max_context: int = 10) -> Iterator[Example]:
    """Every proper prefix of every query, as typed, with the session's previous queries.

    Proper: once the whole query is typed, echoing it back is no prediction. Prefixes are
    the raw characters of the normalised query, so "new york" yields "new " (trailing space).
    `context` holds up to `max_context` earlier queries of the session, as a server would.
    """
    for s in sessions:
        for j in range(len(s.queries)):
            yield from query_examples(s, j, max_context)


def query_examples(s: Session, j: int, max_context: int = 10) -> Iterator[Example]:
    """The keystroke examples of the j-th query of session `s` (see `examples`)."""
    q, t = s.queries[j], s.times[j]
    ctx = s.queries[max(0, j - max_context) : j]
    prev = ctx[-1] if ctx else ""
    for i in range(1, len(q)):
        yield Example(prev, q[:i], q, s.user, t, ctx)
