"""One bucket's sessions and pairs, cut exactly where the whole log's sessions are cut.

`sessions.sessionize` reads a time part's stream of events and starts a session whenever the
user changes, the gap grows past `gap_s` or time runs backwards. A bucket holds only some
users, so "the user changed" cannot be seen from neighbours there; but every event carries
`seq`, its number in its part's stream (`stream.events`), and the event before it in that
stream was the same user's exactly when that user's previous event has the number just
before. With that test in place of the neighbour's user, a bucket read user by user gives
the whole log's sessions of its users, and each pair keeps the number of the event that
began its query, which orders pairs of every bucket back into the whole log's order (a
session is a run of consecutive events of its part's stream).

Pure functions; no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from ..counts import Pair
from ..sessions import Session
from .events import BucketEvent

#: how far apart the parts' numbers are placed in a pair's `order`: parts come one after
#: the other, as `SplitSessions.part("all")` concatenates them
PART_STRIDE = 1 << 40


@dataclass(frozen=True)
class NumberedSession:
    """A session, its time part (an index of `events.PARTS`), and for each of its queries
    the part's number (`seq`) of the event that began it (a re-issue of the query just
    issued continues it)."""

    part: int
    starts: tuple[int, ...]
    session: Session

    @property
    def order(self) -> int:
        """Where the session's first pair sits in the log's order of pairs."""
        return self.part * PART_STRIDE + self.starts[0]


def bucket_sessions(events: Iterable[BucketEvent], gap_s: float) -> Iterator[NumberedSession]:
    """The sessions of events grouped by user, each user's in (part, seq) order.

    Same rules as `sessions.sessionize`, the previous event of the part's stream standing
    for the previous event of the log: a session continues while the same user's next
    event of the same part is next in that part's stream, no more than `gap_s` later and
    not earlier; re-issuing the query just issued updates its time and adds no query.
    """
    user = ""
    part = last = -1
    qs: list[str] = []
    ts: list[float] = []
    starts: list[int] = []
    for ev_part, seq, ev_user, q, t in events:
        same_run = ev_user == user and ev_part == part and seq == last + 1
        if not same_run or t - ts[-1] > gap_s or t < ts[-1]:
            if qs:
                yield NumberedSession(part, tuple(starts), Session(user, tuple(qs), tuple(ts)))
            user, part, qs, ts, starts = ev_user, ev_part, [q], [t], [seq]
        elif q == qs[-1]:
            ts[-1] = t
        else:
            qs.append(q)
            ts.append(t)
            starts.append(seq)
        last = seq
    if qs:
        yield NumberedSession(part, tuple(starts), Session(user, tuple(qs), tuple(ts)))


def numbered_pairs(sessions: Iterable[NumberedSession]) -> Iterator[tuple[int, Pair]]:
    """(order, (q_prev, q_next, user, time)) for every query of every session, as
    `sessions.pairs` yields them; `order` sorts pairs of any buckets into the log's order."""
    for ns in sessions:
        s = ns.session
        prev = ""
        base = ns.part * PART_STRIDE
        for q, t, start in zip(s.queries, s.times, ns.starts, strict=True):
            yield base + start, (prev, q, s.user, t)
            prev = q
