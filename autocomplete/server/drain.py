"""Graceful shutdown for WebSockets: finish the reply in flight, then close with 1001.

On SIGTERM uvicorn stops accepting and calls `shutdown()` on every open connection; its
WebSocket protocol then closes at once with 1012, dropping any reply the app was about to
send. `DrainingWebSocketProtocol` instead asks the app to finish: it hands each connection a
`DrainHook` in the ASGI scope (`scope["extensions"]["qac.drain"]`); on shutdown it triggers
the hook, the app answers what it is working on and closes with 1001 ("going away"), and
uvicorn's own 1012 close only runs for connections still open at uvicorn's
`timeout_graceful_shutdown`.

An app served by a plain server simply finds no hook and is closed the usual way. Selected
with uvicorn's `ws=` option by import string, so every worker process uses it.
"""

from __future__ import annotations

from collections.abc import Callable

from uvicorn._types import ASGISendEvent
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.http11 import Request

DRAIN_EXTENSION = "qac.drain"
PROTOCOL_IMPORT = "autocomplete.server.drain:DrainingWebSocketProtocol"
_DEFAULT_GRACE_S = 5.0


class DrainHook:
    """One connection's shutdown signal: the server `request`s, the app `subscribe`s."""

    def __init__(self) -> None:
        self.requested = False
        self._callback: Callable[[], None] | None = None

    def subscribe(self, callback: Callable[[], None]) -> None:
        """Call `callback` when shutdown is requested (at once if it already was)."""
        self._callback = callback
        if self.requested:
            callback()

    def request(self) -> None:
        if self.requested:
            return
        self.requested = True
        if self._callback is not None:
            self._callback()


class DrainingWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's websockets (sans-I/O) protocol, with a polite `shutdown`."""

    _hook: DrainHook | None = None

    def handle_connect(self, event: Request) -> None:
        super().handle_connect(event)
        scope = getattr(self, "scope", None)
        if scope is not None and not self.close_sent:
            # The app task was created but has not run yet, so it sees the hook.
            self._hook = DrainHook()
            scope["extensions"][DRAIN_EXTENSION] = self._hook

    async def send(self, message: ASGISendEvent) -> None:
        await super().send(message)
        if message["type"] == "websocket.http.response.body" and not message.get("more_body"):
            # A denial response answers the handshake; uvicorn does not count it as one and,
            # unless the socket's close won the race, logged an error for every refused
            # client ("returned without completing handshake"), past the refusal's own
            # rate-limited line.
            self.handshake_complete = True

    def shutdown(self) -> None:
        hook = self._hook
        if hook is None or not self.handshake_complete or self.close_sent or self.disconnected:
            super().shutdown()
            return
        hook.request()
        # The app bounds its own drain (`ServerConfig.drain_timeout_s`); this is the backstop
        # for an app that never closes, at uvicorn's graceful-shutdown deadline.
        grace_s = self.config.timeout_graceful_shutdown or _DEFAULT_GRACE_S
        self.loop.call_later(grace_s, self._force_shutdown)

    def _force_shutdown(self) -> None:
        if not self.disconnected:
            super().shutdown()
