"""One connection's copy of its session context, so keystrokes never wait on the store.

The session's previous queries and the user's history change only when a query is submitted
or forgotten, and almost always on this very connection. So the connection reads them once
(right after the handshake), applies its own submits and forgets to its copy at once, and
re-reads in the background now and then (another tab or worker may have changed them). A
keystroke waits on the store only when nothing was read yet, and then at most the read
budget; a slow or dead store leaves the copy as it is.

A re-read can overtake a local change: the change is made while the read is on its way, and
the answer may or may not include it. So the changes made since the read began are replayed
on top of the answer (`replace`), and a submit is never undone by an answer that overtook it
(a replayed submit may count twice in the local copy of its history count; the store's count
is right).

Pure: times are passed in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from session_store.base import HistoryEntry

from .store_gateway import Context

_Op = tuple[str, str | None, float]  # ("submit" | "forget", query, unix time)


@dataclass
class LocalContext:
    max_recent: int = 10
    history_size: int = 200
    previous: tuple[str, ...] = ()
    history: tuple[HistoryEntry, ...] = ()
    loaded_at: float | None = None
    """When the store last answered or was given up on; None: never asked yet."""
    version: int = 0
    """Bumped by every local change."""
    _ops: list[tuple[int, _Op]] = field(default_factory=list)
    #: Local changes remembered for replay; a client past it loses the oldest (bounded memory).
    max_ops: ClassVar[int] = 64

    def submitted(self, query: str, now: float, *, personal: bool) -> None:
        """The user submitted `query` at unix time `now` (history only when `personal`)."""
        self._record(("submit" if personal else "submit-session", query, now))

    def forgotten(self, query: str | None) -> None:
        """`query` (None: everything) was forgotten."""
        self._record(("forget", query, 0.0))

    def replace(self, context: Context | None, started_version: int, now: float) -> None:
        """Take what the store said (None: it could not say) for a read that began at
        `started_version`, with the local changes since then replayed on top."""
        self.loaded_at = now
        if context is not None:
            self.previous = context.previous[-self.max_recent :]
            self.history = context.history[: self.history_size]
            for version, op in self._ops:
                if version > started_version:
                    self._apply(op)
        self._ops.clear()  # one read at a time: nothing older can still arrive

    def _record(self, op: _Op) -> None:
        self.version += 1
        self._ops.append((self.version, op))
        del self._ops[: -self.max_ops]
        self._apply(op)

    def _apply(self, op: _Op) -> None:
        kind, query, now = op
        if kind == "forget":
            if query is None:
                self.previous, self.history = (), ()
            else:
                self.previous = tuple(q for q in self.previous if q != query)
                self.history = tuple(h for h in self.history if h.query != query)
            return
        assert query is not None
        if not self.previous or self.previous[-1] != query:
            self.previous = (*self.previous, query)[-self.max_recent :]
        if kind == "submit":
            old = next((h for h in self.history if h.query == query), None)
            entry = HistoryEntry(query, 1 if old is None else old.count + 1, now)
            rest = tuple(h for h in self.history if h.query != query)
            self.history = (entry, *rest)[: self.history_size]
