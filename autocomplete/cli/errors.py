"""Which errors a command may end with, and the exit status each one gets.

Known errors (bad logs, bad index directories, bad arguments or settings, an unreachable
server or store) print one line to stderr and exit 2; nothing the user can cause prints a
traceback. A command that ran and found a failure (the replay gate) returns its own status.
"""

from __future__ import annotations

from autocomplete.model.errors import IndexFormatError
from autocomplete.replay.errors import ReplayError
from indexer.errors import IndexerError
from session_store.errors import SessionStoreError

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class CommandError(Exception):
    """A command cannot go on; the message says why, in one line."""


#: errors reported as one line and EXIT_USAGE (ValueError covers bad settings:
#: `autocomplete.server.errors.ConfigError`, `autocomplete.blocklist.BlocklistError`)
KNOWN: tuple[type[Exception], ...] = (
    CommandError,
    IndexerError,
    IndexFormatError,
    ReplayError,
    SessionStoreError,
    ValueError,
)
