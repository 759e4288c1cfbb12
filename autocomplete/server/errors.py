"""The server's small error tree: a bad frame from a client, a bad setting from an operator.

`ProtocolError` is what a client can cause; the connection answers it with an `error` frame
(and keeps going unless `close_code` says otherwise), so nothing a client sends can crash the
server. `ConfigError` is what an operator can cause; it is a `ValueError` so the CLI reports it
as one line with exit status 2, like every other bad argument (`autocomplete.cli.errors`).
"""

from __future__ import annotations

from typing import Literal

RequestId = int | str
ErrorCode = Literal["bad_request", "rate_limited", "unavailable"]


class ServerError(Exception):
    """Root of every error the server raises on purpose."""


class ProtocolError(ServerError):
    """A client frame that cannot be served.

    code: the wire error code sent back in the `error` frame.
    request_id: the frame's `id` when it could be read, so the client can match the error to
        its request; None when the frame was too broken to have one.
    close_code: None keeps the connection open (the usual case); a WebSocket close code ends
        it after the error frame.
    """

    def __init__(
        self,
        message: str,
        *,
        code: ErrorCode = "bad_request",
        request_id: RequestId | None = None,
        close_code: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code: ErrorCode = code
        self.request_id = request_id
        self.close_code = close_code


class ConfigError(ServerError, ValueError):
    """A server setting (flag or `QAC_*` environment variable) is missing or malformed."""
