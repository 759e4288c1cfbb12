"""Errors raised by session stores.

The server treats session context as a bonus, never a requirement: when the store cannot answer
it catches `SessionStoreUnavailable` and completes on the prefix alone. Keeping the tree this
small means a caller never needs to know which backend or client library sits underneath.
Bad arguments are plain `ValueError`/`TypeError`, not part of this tree: they are the caller's
bug, not the store's state.
"""

from __future__ import annotations


class SessionStoreError(Exception):
    """Root of every error a session store raises on purpose."""


class SessionStoreUnavailable(SessionStoreError):
    """The backend is unreachable, too slow, or answered with an error.

    Transient by nature: the same store object recovers by itself once the backend is back, so
    callers degrade (complete without context, answer ``stored: false``) rather than restart.
    """
