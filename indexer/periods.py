"""The time span a part of a log covers, as the index manifest records it.

An index remembers when the queries it learned from were issued (`stats.periods` in its
manifest: the training part, and the dev part the blend weights are fitted on), so that
scoring it on queries from the same time can be caught: such scores are inflated, the
index has seen the answers. Times are UTC, to the second, as the logs give them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from .sessions import Session, TimeSplit

_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


@dataclass(frozen=True)
class Period:
    """From `first` to `last` (unix seconds, both included; infinite for an open end)."""

    first: float
    last: float

    @classmethod
    def of(cls, sessions: Iterable[Session]) -> Period | None:
        """The span of every query of `sessions`; None when there is none."""
        times = [t for s in sessions for t in s.times]
        return cls(min(times), max(times)) if times else None

    def overlaps(self, other: Period) -> bool:
        return self.first <= other.last and other.first <= self.last

    def to_json(self) -> dict[str, str]:
        return {"first": _iso(self.first), "last": _iso(self.last)}

    @classmethod
    def from_json(cls, d: Mapping[str, Any] | None) -> Period | None:
        if not d:
            return None
        return cls(_unix(d["first"]), _unix(d["last"]))

    @classmethod
    def of_part(cls, split: TimeSplit, part: str) -> Period:
        """When the events of `split`'s part can have been issued (train is open at the
        start, test at the end, "all" at both)."""
        start = {"train": -math.inf, "dev": _midnight(split.dev_start)}
        start["test"] = _midnight(split.test_start)
        end = {"train": start["dev"] - 1, "dev": start["test"] - 1, "test": math.inf}
        if part == "all":
            return cls(-math.inf, math.inf)
        return cls(start[part], end[part])

    def __str__(self) -> str:
        if math.isinf(self.first) and math.isinf(self.last):
            return "any time"
        if math.isinf(self.first):
            return f"any time up to {_iso(self.last)[:10]}"
        if math.isinf(self.last):
            return f"{_iso(self.first)[:10]} on"
        return f"{_iso(self.first)[:10]} to {_iso(self.last)[:10]}"


def period(sessions: Iterable[Session]) -> dict[str, str] | None:
    """What the manifest records for a part: its span as ISO times, or None when empty."""
    p = Period.of(sessions)
    return p.to_json() if p is not None else None


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime(_FORMAT)


def _midnight(d: date) -> float:
    return datetime(d.year, d.month, d.day, tzinfo=UTC).timestamp()


def _unix(text: str) -> float:
    return datetime.strptime(text, _FORMAT).replace(tzinfo=UTC).timestamp()
