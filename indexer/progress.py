"""Build progress: named phases, with counts against totals where known, and elapsed time.

A build takes minutes to hours on a real log, so it says which phase it is in, how far that
phase has got, and how long each took. The build code only reports (`Progress.phase`,
`Phase.advance`, `Phase.finish`); what a person sees of it (an updating terminal line, plain
log lines, nothing) is decided by the sink the caller passes (`autocomplete.cli.progress`).

A bare `Callable[[str], None]`, which is what `progress=` took before phases existed, still
works: `Progress.of` hands it one plain line per event.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal, TypeAlias

Kind = Literal["start", "step", "end", "failed"]


@dataclass(frozen=True)
class Event:
    """One thing a build says.

    kind: "start" (a phase began), "step" (it advanced: `done` of `total`; `detail` set when
        the step is a milestone worth a line of its own, such as one XR-Linear level), or
        "end" (it finished; `detail` says what it produced), or "failed" (an error left it;
        the error itself is the caller's to report).
    total: None when the amount of work is not known in advance (a log's row count).
    phase_s: seconds since the phase began; build_s: since the build began.
    """

    kind: Kind
    phase: str
    done: int
    total: int | None
    phase_s: float
    build_s: float
    detail: str = ""

    def line(self) -> str:
        """The event as one plain line, e.g. `[   4.1s] reading log: done in 4.1s: 17529
        events` (no carriage return: it goes to log files as well as terminals)."""
        head = f"[{self.build_s:7.1f}s] {self.phase}"
        count = f"{self.done}/{self.total}" if self.total is not None else str(self.done)
        if self.kind == "start":
            return f"{head}: started" + (f" ({self.total} steps)" if self.total else "")
        if self.kind == "step":
            return f"{head}: {count}{self._estimate()}" + (
                f": {self.detail}" if self.detail else ""
            )
        if self.kind == "failed":
            return f"{head}: failed after {self.phase_s:.1f}s"
        return f"{head}: done in {self.phase_s:.1f}s" + (f": {self.detail}" if self.detail else "")

    def _estimate(self) -> str:
        """`, ~12s left` at the pace of the phase so far (its steps assumed alike); nothing
        before the first step or without a total."""
        if not self.total or self.done <= 0 or self.done >= self.total:
            return ""
        left = self.phase_s / self.done * (self.total - self.done)
        return f", ~{left:.0f}s left"


Sink: TypeAlias = Callable[[Event], None]


class Phase:
    """A running phase: `advance` counts work done, `finish` says what the phase produced."""

    def __init__(self, progress: Progress, name: str, total: int | None) -> None:
        self._progress = progress
        self.name = name
        self.total = total
        self.done = 0
        self.detail = ""
        self.started = progress.clock()

    def advance(self, n: int = 1, detail: str = "") -> None:
        self.done += n
        self._progress.emit(self, "step", detail)

    def finish(self, detail: str) -> None:
        """What the end line reports (counts produced); call before the phase's block ends."""
        self.detail = detail


class Progress:
    """Reports a build's phases to `sink` (None: to nobody, at no cost but a clock read)."""

    def __init__(self, sink: Sink | None = None, clock: Callable[[], float] = time.monotonic):
        self.sink = sink
        self.clock = clock
        self.started = clock()

    @classmethod
    def of(cls, progress: ProgressLike) -> Progress:
        """`progress` as a `Progress`: itself, a silent one for None, or one that hands a plain
        line per event to a `Callable[[str], None]`."""
        if isinstance(progress, Progress):
            return progress
        if progress is None:
            return cls()
        say = progress
        return cls(lambda event: say(event.line()))

    @contextmanager
    def phase(self, name: str, total: int | None = None) -> Iterator[Phase]:
        """Report `name` as started, then as ended once the block is left, or as failed
        when an error leaves it (the error itself is the caller's to report)."""
        ph = Phase(self, name, total)
        self.emit(ph, "start")
        try:
            yield ph
        except BaseException:
            self.emit(ph, "failed")
            raise
        self.emit(ph, "end", ph.detail)

    def emit(self, ph: Phase, kind: Kind, detail: str = "") -> None:
        if self.sink is None:
            return
        now = self.clock()
        elapsed = now - ph.started
        self.sink(Event(kind, ph.name, ph.done, ph.total, elapsed, now - self.started, detail))


ProgressLike: TypeAlias = Progress | Callable[[str], None] | None
