"""A deadline for HTTP request headers, so half-sent requests cannot hold sockets forever.

uvicorn times out idle keep-alive connections only after a response, and restarts that timer
on every byte received, so a client that opens a connection and trickles (or never finishes)
its request headers keeps the socket, and enough of them starve everyone else
("slowloris"). `HeaderTimeoutH11Protocol` gives every request `header_timeout_s` from its
first byte (or from the connection's start) to deliver complete headers; past it the
connection is closed. Once the headers are in, uvicorn's own handling takes over (a WebSocket
upgrade leaves this protocol altogether).

Selected with uvicorn's `http=` option by import string, so every worker process uses it;
the deadline is set per process with `configure_header_timeout` (the app does it).
"""

from __future__ import annotations

import asyncio

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

PROTOCOL_IMPORT = "autocomplete.server.timeouts:HeaderTimeoutH11Protocol"
_settings = {"header_timeout_s": 10.0}


def configure_header_timeout(seconds: float) -> None:
    _settings["header_timeout_s"] = seconds


class HeaderTimeoutH11Protocol(H11Protocol):
    _header_deadline: asyncio.TimerHandle | None = None
    header_timeouts = 0  # connections closed for slow headers, in this process

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state is h11.IDLE:  # still waiting for a complete request line
            self._arm()
        else:
            self._disarm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._disarm()  # the keep-alive timer covers the quiet time; data re-arms ours

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        if self._header_deadline is None:
            self._header_deadline = self.loop.call_later(
                _settings["header_timeout_s"], self._headers_too_slow
            )

    def _disarm(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _headers_too_slow(self) -> None:
        self._header_deadline = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            HeaderTimeoutH11Protocol.header_timeouts += 1
            self.transport.close()
