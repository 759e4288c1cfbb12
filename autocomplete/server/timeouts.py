"""Deadlines and shares for HTTP requests still being sent, so half-sent ones cannot pile up.

uvicorn times out idle keep-alive connections only after a response, and restarts that timer
on every byte received, so a client that opens a connection and trickles (or never finishes)
its request headers keeps the socket, and enough of them starve everyone else
("slowloris"). `HeaderTimeoutH11Protocol` gives every request `header_timeout_s` from its
first byte (or from the connection's start) to deliver complete headers; past it the
connection is closed. Once the headers are in, uvicorn's own handling takes over (a WebSocket
upgrade leaves this protocol altogether).

One address may also have only `max_pending` connections in that state at once (the
trusted proxies, whose connections carry many clients, excepted): beyond it a new connection is
closed at once, before any byte is parsed, so a client cannot tie up the server with thousands
of trickling requests either.

Selected with uvicorn's `http=` option by import string, so every worker process uses it;
the settings are set per process with `configure_header_timeout` (the app does it).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from .peers import Network, in_networks

PROTOCOL_IMPORT = "autocomplete.server.timeouts:HeaderTimeoutH11Protocol"


@dataclass
class _Settings:
    header_timeout_s: float = 10.0
    max_pending: int = 20
    exempt: tuple[Network, ...] = ()


_settings = _Settings()
_pending: Counter[str] = Counter()  # address -> connections still sending headers


def configure_header_timeout(
    seconds: float, max_pending: int = 20, exempt: tuple[Network, ...] = ()
) -> None:
    _settings.header_timeout_s = seconds
    _settings.max_pending = max_pending
    _settings.exempt = exempt


class HeaderTimeoutH11Protocol(H11Protocol):
    _header_deadline: asyncio.TimerHandle | None = None
    _pending_address: str | None = None
    header_timeouts = 0  # connections closed for slow headers, in this process
    refused_pending = 0  # connections closed for too many pending from one address

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        address = self._counted_address()
        if address is not None and _pending[address] >= _settings.max_pending:
            HeaderTimeoutH11Protocol.refused_pending += 1
            transport.close()
            return
        self._arm()

    def _counted_address(self) -> str | None:
        """The peer address pending requests are counted against (None: not counted)."""
        address = self.client[0] if self.client else None
        if address is None or in_networks(address, _settings.exempt):
            return None
        return str(address)

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
                _settings.header_timeout_s, self._headers_too_slow
            )
            address = self._counted_address()
            if address is not None:
                _pending[address] += 1
                self._pending_address = address

    def _disarm(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None
        address, self._pending_address = self._pending_address, None
        if address is not None:
            _pending[address] -= 1
            if _pending[address] <= 0:
                del _pending[address]

    def _headers_too_slow(self) -> None:
        self._header_deadline = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            HeaderTimeoutH11Protocol.header_timeouts += 1
            self.transport.close()
