"""Session context and personal history for the autocomplete server.

`create_store(None, config)` gives the embedded in-memory store; `create_store(url, config)`
gives the Redis store. Both satisfy the `SessionStore` protocol and raise
`SessionStoreUnavailable` when their backend cannot answer. This package imports neither
`autocomplete` nor `indexer`.
"""

from session_store.base import (
    MAX_ID_CHARS,
    MAX_QUERY_CHARS,
    HistoryEntry,
    SessionStore,
    StoreConfig,
    create_store,
)
from session_store.errors import SessionStoreError, SessionStoreUnavailable

__all__ = [
    "MAX_ID_CHARS",
    "MAX_QUERY_CHARS",
    "HistoryEntry",
    "SessionStore",
    "SessionStoreError",
    "SessionStoreUnavailable",
    "StoreConfig",
    "create_store",
]
