"""Which errors a command may end with, and the exit status each one gets.

    0    done
    1    a runtime failure: the command line was fine but the world was not as it needs:
         a log that cannot be read or holds no usable query (`IndexerError`), an index
         directory that is missing or corrupt (`IndexFormatError`), an unreachable Redis or
         replay server (`SessionStoreError`, `ReplayError`), a file that cannot be written
         (`OSError`), any other `CommandError`; also `replay --baseline` finding a regression
    2    a usage error: a bad argument, flag or setting: argparse's own errors, `UsageError`,
         and `ValueError` (bad settings: `autocomplete.server.errors.ConfigError`, a
         malformed URL, `autocomplete.blocklist.BlocklistError`)
    130  interrupted (Ctrl-C)

Each error prints one line, `autocomplete: error: ...`, on stderr and no traceback: nothing a
user can cause should need reading Python's internals. An error not listed here is a bug and
keeps its traceback. This table is the one place the mapping lives; README.md's "Command
line" section repeats it for users.
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
    """A command cannot go on; the message says why, in one line. Exit 1."""


class UsageError(CommandError):
    """The command line asks for something that cannot be, found after parsing. Exit 2."""


#: (error type, exit status), first match wins: the usage errors come first because a
#: `UsageError` is a `CommandError`
EXIT_STATUS: tuple[tuple[type[Exception], int], ...] = (
    (UsageError, EXIT_USAGE),
    (ValueError, EXIT_USAGE),
    (CommandError, EXIT_FAILED),
    (IndexerError, EXIT_FAILED),
    (IndexFormatError, EXIT_FAILED),
    (ReplayError, EXIT_FAILED),
    (SessionStoreError, EXIT_FAILED),
    (OSError, EXIT_FAILED),
)


#: the table above, in short, for `autocomplete --help`
EXIT_STATUSES = """\
exit status: 0 done; 1 a runtime failure (a log that cannot be read, a missing or corrupt
index, an unreachable server or Redis); 2 a usage error (bad arguments or settings);
130 interrupted."""


def exit_status(exc: BaseException) -> int | None:
    """The exit status `exc` ends a command with; None for an error nobody expected."""
    for kind, status in EXIT_STATUS:
        if isinstance(exc, kind):
            return status
    return None


def describe(exc: BaseException) -> str:
    """`exc` as the text of the one error line (an `OSError` names its file, not its errno)."""
    if isinstance(exc, OSError) and exc.strerror:
        where = f"{exc.filename}: " if exc.filename else ""
        return f"{where}{exc.strerror}"
    return str(exc)


def error_line(message: str) -> str:
    """The one line an error prints: its message with any line breaks folded to spaces."""
    return "autocomplete: error: " + " ".join(message.split())


def warning_line(message: str) -> str:
    """One line for something the user should know that does not stop the command."""
    return "autocomplete: warning: " + " ".join(message.split())
