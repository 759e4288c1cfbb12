"""The real app under a real uvicorn, in a thread of the test process, on a free port.

The listening socket is bound here, to a port the kernel picks, and handed to uvicorn: a port
found free and bound later by uvicorn could be taken in between by a test running beside
this one (the suite runs on two workers).

For tests that must reach inside the server while it runs: a store that blocks until told,
a ranker that shows what context it received, a drain observed as it happens. The socket,
protocol class and settings are the production ones (`runner.uvicorn_config`).
"""

from __future__ import annotations

import dataclasses
import socket
import threading
import time
from types import TracebackType

import uvicorn
from starlette.applications import Starlette

from autocomplete.server.app import CompletionServer
from autocomplete.server.config import ServerConfig
from autocomplete.server.runner import uvicorn_config

_POLL_S = 0.005


class InProcessServer:
    def __init__(self, app: Starlette, config: ServerConfig, startup_timeout_s: float = 10.0):
        self.app = app
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        config = dataclasses.replace(config, host="127.0.0.1", port=self._sock.getsockname()[1])
        self.server = uvicorn.Server(uvicorn_config(config, app, configure_logging=False))
        self.startup_timeout_s = startup_timeout_s
        self._thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self._sock]}, daemon=True
        )

    @property
    def state(self) -> CompletionServer:
        server: CompletionServer = self.app.state.server
        return server

    @property
    def port(self) -> int:
        return self.server.config.port

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def start(self) -> InProcessServer:
        self._thread.start()
        deadline = time.monotonic() + self.startup_timeout_s
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("in-process server did not start")
            time.sleep(_POLL_S)
        return self

    def begin_shutdown(self) -> None:
        """What SIGTERM does: uvicorn stops accepting and drains (asynchronously)."""
        self.server.should_exit = True

    def stop(self, timeout_s: float = 15.0) -> None:
        self.server.should_exit = True
        self._thread.join(timeout_s)
        if self._thread.is_alive():
            raise RuntimeError("in-process server did not stop")
        self._sock.close()

    def __enter__(self) -> InProcessServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
