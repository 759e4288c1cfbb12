"""How a build's progress looks: an updating line on a terminal, plain lines anywhere else.

The build reports named phases through `indexer.progress`; this module only decides how a
person sees them. On a terminal each phase is a tqdm line updated in place (count, total
where known, elapsed time, an estimate of the time left) that stays, with what the phase
produced, once it ends. Anywhere else (a log file, CI, a pipe) a terminal line would be
carriage returns nobody reads, so each phase start and end (or failure), and each milestone
step (one XR-Linear level, with the time left at the pace so far), is one plain line.
"""

from __future__ import annotations

import os
import shutil
from typing import TextIO

from tqdm import tqdm

from indexer.progress import Event, Sink

_COUNTED = "{desc}: {n_fmt}/{total_fmt} [{elapsed}<{remaining}{postfix}]"
_OPEN_ENDED = "{desc}: {n_fmt} [{elapsed}{postfix}]"
_NO_STEPS = "{desc} [{elapsed}{postfix}]"


def sink_for(stream: TextIO, *, quiet: bool) -> Sink | None:
    """The sink for `stream`: None when quiet, a terminal line on a tty, else plain lines."""
    if quiet:
        return None
    return TerminalLines(stream) if stream.isatty() else PlainLines(stream)


class PlainLines:
    """One line per phase start, milestone step and end (`Event.line`), flushed at once."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def __call__(self, event: Event) -> None:
        if event.kind == "step" and not event.detail:
            return
        print(event.line(), file=self.stream, flush=True)


class TerminalLines:
    """A tqdm line per phase, updated in place while it runs and left in place when done."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.bars: dict[str, tqdm] = {}  # type: ignore[type-arg]

    def __call__(self, event: Event) -> None:
        if event.kind == "start":
            size = _size(self.stream)
            self.bars[event.phase] = tqdm(
                total=event.total,
                desc=event.phase,
                file=self.stream,
                leave=True,
                bar_format=_COUNTED if event.total else _NO_STEPS,
                ncols=size.columns,
                nrows=size.lines,
            )
            return
        bar = self.bars.get(event.phase)
        if bar is None:
            return
        if event.kind == "step":
            if not event.total:
                bar.bar_format = _OPEN_ENDED  # a count is worth showing once there is one
            if event.detail:
                bar.set_postfix_str(event.detail, refresh=False)
            bar.update(event.done - bar.n)
            return
        bar.set_postfix_str(event.detail if event.kind == "end" else "failed", refresh=False)
        bar.close()
        del self.bars[event.phase]


def _size(stream: TextIO) -> os.terminal_size:
    """The terminal's size. One that reports 0 (some consoles, `script`) would get nothing at
    all from tqdm, so the stdlib's fallback ($COLUMNS and $LINES, then 80x24) stands in."""
    try:
        size = os.get_terminal_size(stream.fileno())
    except (AttributeError, OSError, ValueError):
        size = os.terminal_size((0, 0))
    fallback = shutil.get_terminal_size()
    return os.terminal_size((size.columns or fallback.columns, size.lines or fallback.lines))
