"""The replay tool's errors: the CLI turns each into one line on stderr and exit 1
(`autocomplete.cli.errors`); a malformed URL is a usage error there, exit 2."""

from __future__ import annotations


class ReplayError(Exception):
    """Root of every error the replay tool raises on purpose."""


class ServerUnreachable(ReplayError):
    """The first connection failed: bad URL, refused, handshake rejected or timed out."""


class ServerGone(ReplayError):
    """The server went away mid-replay and did not come back within the reconnect deadline."""


class BaselineError(ReplayError):
    """A `--baseline` file cannot be read or is not a saved replay (or evaluate) report."""
