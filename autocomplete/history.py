"""Personal history as the offline evaluator and the blend's fit replay it.

The server keeps each user's last N distinct queries with counts and last-used times in the
session store. Offline we replay exactly that, through the embedded store itself
(`session_store.memory.MemoryStore`), user by user in time order: everything the user issued
before the evaluated period is their past, and each evaluated query joins the history after
it has been scored, so offline figures predict what the server will do.
"""

from __future__ import annotations

from collections.abc import Coroutine, Iterable, Iterator, Sequence
from typing import Any, TypeVar

from indexer.sessions import Example, Session, examples, query_examples
from session_store.base import HistoryEntry, StoreConfig
from session_store.memory import MemoryStore

from .ranking import Context, PrefixHistory

T = TypeVar("T")


def _done(call: Coroutine[Any, Any, T]) -> T:
    """The result of a `MemoryStore` call, which never awaits (see its docstring)."""
    try:
        call.send(None)
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]
    call.close()
    raise RuntimeError("the memory store awaited; it cannot be replayed synchronously")


class HistoryReplay:
    """Users' histories as the server's store keeps them, on the log's clock."""

    def __init__(self, config: StoreConfig | None = None) -> None:
        self._clock = 0.0
        self.store = MemoryStore(config, clock=lambda: self._clock, wall_clock=lambda: self._clock)

    def record(self, user: str, query: str, when: float) -> None:
        self._clock = max(self._clock, when)
        _done(self.store.record_user(user, query, now=when))

    def snapshot(self, user: str) -> tuple[HistoryEntry, ...]:
        """The user's history now (`HistoryEntry`s, most recently used first)."""
        return tuple(_done(self.store.user_history(user)))


def keystrokes_with_history(
    past: Sequence[Session], evaluated: Sequence[Session], config: StoreConfig | None = None
) -> Iterator[tuple[Example, Context]]:
    """Every keystroke example of `evaluated`, with its context: the session's previous
    queries, the user's history as it stood then, and the keystroke's time.

    `past` sessions (any users) seed each user's history; then each evaluated query is
    scored on all its prefixes before it is recorded.
    """
    replay = HistoryReplay(config)
    for s in sorted(past, key=lambda s: s.times[0]):
        for q, t in zip(s.queries, s.times, strict=True):
            replay.record(s.user, q, t)
    for s in evaluated:
        for j, (q, t) in enumerate(zip(s.queries, s.times, strict=True)):
            history = replay.snapshot(s.user)
            for ex in query_examples(s, j):
                yield ex, Context(ex.context, history, ex.time)
            replay.record(s.user, q, t)


def served(stream: Iterable[tuple[Example, Context]]) -> Iterator[tuple[Example, Context]]:
    """The keystrokes with each history as a server connection hands it to the ranker: a
    `PrefixHistory` made when the history changes, shared by the keystrokes that follow
    (sorted once per change, not per keystroke)."""
    last: object = None
    view = PrefixHistory(())
    for ex, ctx in stream:
        if ctx.history is not last:
            last, view = ctx.history, PrefixHistory(ctx.history)
        yield ex, Context(ctx.previous, view, ctx.now)


def seed_sessions(past: Sequence[Session], config: StoreConfig | None = None) -> list[Session]:
    """Sessions that seed the very histories `past` seeds in `keystrokes_with_history`,
    in at most `user_history_size` distinct queries a user: one per user, each query of
    the user's history as the store holds it after `past`, repeated its count times at its
    last-used time, least recently used first (ties in the store's order).

    So a build can keep each dev user's history instead of all their training sessions
    (`autocomplete.streamed`). Exact where the store's order of a user's queries is their
    last-used order, which holds when no two of the user's sessions overlap in time (a log
    sorted by user and time, as AOL's are); and, as `keystrokes_with_history` replays every
    user into one store, where that store evicts nobody (at most `max_users` users, no
    history older than `user_ttl_s` by the last evaluated query).
    """
    replay = HistoryReplay(config)
    users: dict[str, None] = {}
    for s in sorted(past, key=lambda s: s.times[0]):
        users[s.user] = None
        for q, t in zip(s.queries, s.times, strict=True):
            replay.record(s.user, q, t)
    out = []
    for user in users:
        entries = sorted(replay.snapshot(user), key=lambda e: e.last_used)
        if entries:
            queries = tuple(e.query for e in entries for _ in range(e.count))
            times = tuple(e.last_used for e in entries for _ in range(e.count))
            out.append(Session(user, queries, times))
    return out


def keystrokes(evaluated: Sequence[Session]) -> Iterator[tuple[Example, Context]]:
    """Every keystroke example of `evaluated` with its context as an anonymous visitor has
    it: the session's previous queries and the time, no history."""
    for ex in examples(evaluated):
        yield ex, Context(ex.context, (), ex.time)
