"""Which keystrokes a replay types: exactly the ones `autocomplete evaluate` scores.

Pure. A session's j-th query is typed as the prefixes `indexer.sessions.query_examples`
yields (every proper prefix of the normalised query, trailing spaces kept), then submitted.
Sessions keep log order, so `--sessions N` is the first N, the same on every run.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from indexer.sessions import Example, Session, query_examples

#: Session labels in reports: short and plain (the server issues the real session ids).
_RUN_ID = re.compile(r"[A-Za-z0-9_-]{1,48}")


@dataclass(frozen=True)
class QueryPlan:
    """One query: its keystrokes (each an `Example` with prefix and target), then submit."""

    query: str
    keystrokes: tuple[Example, ...]


@dataclass(frozen=True)
class SessionPlan:
    """index: position of the session in the replayed part (log order).
    session_id: this run's label for the session, in reports (the server issues the id it
    keys the session by, and each replayed session starts a new one)."""

    index: int
    session_id: str
    user: str
    queries: tuple[QueryPlan, ...]

    @property
    def keystrokes(self) -> int:
        return sum(len(q.keystrokes) for q in self.queries)


def new_run_id() -> str:
    """A fresh prefix for session labels, so two runs' reports never mix up sessions."""
    return "replay-" + secrets.token_hex(4)


def check_run_id(run_id: str) -> str:
    if not _RUN_ID.fullmatch(run_id):
        raise ValueError(
            f"session prefix must be 1-48 characters of A-Z a-z 0-9 _ -, got {run_id!r}"
        )
    return run_id


def plan_session(session: Session, index: int, run_id: str, max_context: int = 10) -> SessionPlan:
    queries = tuple(
        QueryPlan(q, tuple(query_examples(session, j, max_context)))
        for j, q in enumerate(session.queries)
    )
    return SessionPlan(index, f"{check_run_id(run_id)}-{index}", session.user, queries)


def plan_sessions(
    sessions: Sequence[Session], run_id: str, limit: int | None = None
) -> list[SessionPlan]:
    """The first `limit` sessions (all when None), in log order."""
    if limit is not None and limit < 0:
        raise ValueError(f"--sessions must be >= 0, got {limit}")
    chosen = sessions if limit is None else sessions[:limit]
    return [plan_session(s, i, run_id) for i, s in enumerate(chosen)]
