"""The `SessionStore` contract, its settings, and the factory that picks a backend.

The server talks to one small async interface so that the embedded memory store (one process,
the default) and Redis (many processes and hosts) are interchangeable; the contract tests run
the same specification against both. Two kinds of state live here, deliberately separate:

* session context: the last few queries submitted in one browsing session, forgotten after
  `StoreConfig.session_ttl_s` without a submit (the same 30-minute gap that cuts sessions in
  the training log);
* personal history: per user id, how often and when each query was submitted, kept for
  `StoreConfig.user_ttl_s` after the user's last submit.

Time-to-live is refreshed by writes (`append`, `record_user`), not by reads: a session whose
user keeps typing but never submits ends like it does in the log it was trained on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

MAX_ID_CHARS = 128
MAX_QUERY_CHARS = 1000
#: Default half-life of fresh submit counts (server, store and export share it): 6 hours.
FRESH_HALF_LIFE_S = 6 * 3600.0
#: Default weight of distinct identities a fresh query needs before others see it.
FRESH_MIN_USERS = 3.0


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One query in a user's personal history."""

    query: str
    count: int
    """How many times the user submitted it (within the history's lifetime)."""
    last_used: float
    """Unix time in seconds of the latest submit."""


@dataclass(frozen=True, slots=True)
class StoreConfig:
    """Settings shared by every backend; fields a backend does not use are ignored by it."""

    max_recent: int = 10
    """Queries kept per session (the newest ones); `recent` returns at most this many."""

    session_ttl_s: float = 1800.0
    """Seconds after the last `append` before a session's context is dropped (session gap)."""

    user_history_size: int = 200
    """Distinct queries kept per user; the least recently used beyond this are dropped."""

    user_ttl_s: float = 90 * 86400.0
    """Seconds after the last `record_user` before a user's whole history is dropped."""

    socket_timeout_s: float = 0.5
    """Redis only: seconds to wait for a reply before the attempt counts as failed. A backstop
    for a hung server: callers bound how long they wait themselves (the server's read budget
    is far shorter), and a slow but working Redis must still take writes."""

    connect_timeout_s: float = 0.2
    """Redis only: seconds to wait for a TCP connection before the attempt counts as failed."""

    retries: int = 1
    """Redis only: extra attempts after a connection error or timeout (0 = fail at once)."""

    max_sessions: int = 100_000
    """Memory only: sessions kept; beyond it the least recently written session is dropped."""

    max_users: int = 100_000
    """Memory only: users kept; beyond it the least recently written user is dropped."""

    max_user_sessions: int = 100
    """Sessions indexed per user for `forget_user` (the most recent; older ones have expired
    long before a user has this many)."""

    key_prefix: str = "qac"
    """Redis only: namespace of every key (``<prefix>:sess:<id>``, ``<prefix>:user:{<id>}``).
    Must not contain ``{`` or ``}``, which Redis Cluster reads as hash tags."""

    def __post_init__(self) -> None:
        for name in (
            "max_recent",
            "user_history_size",
            "max_sessions",
            "max_users",
            "max_user_sessions",
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"StoreConfig.{name} must be an int >= 1, got {value!r}")
        for name in ("session_ttl_s", "user_ttl_s", "socket_timeout_s", "connect_timeout_s"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or value <= 0:
                raise ValueError(f"StoreConfig.{name} must be a number > 0, got {value!r}")
        if not isinstance(self.retries, int) or self.retries < 0:
            raise ValueError(f"StoreConfig.retries must be an int >= 0, got {self.retries!r}")
        if not self.key_prefix or "{" in self.key_prefix or "}" in self.key_prefix:
            raise ValueError(
                f"StoreConfig.key_prefix must be non-empty without braces, got {self.key_prefix!r}"
            )


@runtime_checkable
class SessionStore(Protocol):
    """Recent queries per session and personal history per user.

    Every method is a coroutine. Backend trouble raises `SessionStoreUnavailable`; malformed
    arguments (empty ids, ids over 128 characters, empty queries or queries over 1000
    characters) raise `ValueError`, and non-strings `TypeError`, before the backend is touched.
    """

    name: str
    """Short backend name for logs, health checks and metrics: ``"memory"`` or ``"redis"``."""

    async def recent(self, session_id: str, user_id: str | None = None) -> list[str]:
        """The session's last `max_recent` submitted queries, oldest first, newest LAST.

        A session belongs to one user (or to nobody): `user_id` is part of its identity, so
        the same session id under another user is another (empty) session. An unknown or
        expired session has no queries: ``[]``.
        """
        ...

    async def append(self, session_id: str, query: str, user_id: str | None = None) -> None:
        """Record a submitted query and refresh the session's TTL.

        A query equal to the session's current newest one is not added again (a double submit
        is not a new step of the session), but the TTL is still refreshed. Only the newest
        `max_recent` queries are kept. A user's sessions are indexed under the user, so
        `forget_user` reaches every one of them.
        """
        ...

    async def clear(self, session_id: str, user_id: str | None = None) -> None:
        """Forget the whole session (no error if it does not exist)."""
        ...

    async def forget(self, session_id: str, query: str, user_id: str | None = None) -> None:
        """Remove every occurrence of `query` from the session."""
        ...

    async def user_history(self, user_id: str) -> list[HistoryEntry]:
        """The user's history, most recently used first; ``[]`` for unknown or expired users."""
        ...

    async def record_user(self, user_id: str, query: str, now: float | None = None) -> None:
        """Count one submit of `query` by the user at unix time `now` (default: the clock).

        Increments the query's count, sets its `last_used` (never moving it backwards), keeps
        only the `user_history_size` most recently used queries, and refreshes the user's TTL.
        """
        ...

    async def forget_user(self, user_id: str, query: str | None = None) -> None:
        """Remove one query (None: everything) from the user's history *and* from every
        session of the user's that is still kept."""
        ...

    async def ping(self) -> bool:
        """True when the backend answers; False otherwise. Never raises."""
        ...

    async def close(self) -> None:
        """Release connections. The store must not be used afterwards."""
        ...


def check_id(kind: str, value: str) -> str:
    """Return `value` if it is a usable session or user id, else raise `ValueError`."""
    if not isinstance(value, str):
        raise TypeError(f"{kind} must be a str, got {type(value).__name__}")
    if not value:
        raise ValueError(f"{kind} must not be empty")
    if len(value) > MAX_ID_CHARS:
        raise ValueError(f"{kind} must be at most {MAX_ID_CHARS} characters, got {len(value)}")
    return value


def check_query(value: str) -> str:
    """Return `value` if it is a storable query, else raise `ValueError`."""
    if not isinstance(value, str):
        raise TypeError(f"query must be a str, got {type(value).__name__}")
    if not value:
        raise ValueError("query must not be empty")
    if len(value) > MAX_QUERY_CHARS:
        raise ValueError(f"query must be at most {MAX_QUERY_CHARS} characters, got {len(value)}")
    return value


def create_store(redis_url: str | None, config: StoreConfig | None = None) -> SessionStore:
    """Build the store the server runs with: in-memory when `redis_url` is None, else Redis.

    Creating a Redis store does not connect; the first call does (use `ping` for a health
    check). A malformed URL raises `ValueError`.
    """
    config = config if config is not None else StoreConfig()
    # Imported here because both backends import this module.
    if redis_url is None:
        from session_store.memory import MemoryStore

        return MemoryStore(config)
    from session_store.redis_store import RedisStore

    return RedisStore(redis_url, config)
