"""A scripted WebSocket server speaking just enough of the protocol to test the client.

`ScriptedServer(reply)` answers every client frame with `reply(frame, state)`: a dict to send,
a list of dicts (sent in order), None (no answer) or `CLOSE` (close the connection). Like the
real server, it issues a session id (`srv-<n>`) to a connection that names none, and resumes
the one a connection names (or announces `hello_session` when set). Runs in the test's loop.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

CLOSE = "close"  # close this connection (1001), keep listening
GONE = "gone"  # close every connection and stop listening: the server is gone


@dataclass
class State:
    frames: list[dict[str, Any]] = field(default_factory=list)  # every frame, all connections
    sessions: list[str] = field(default_factory=list)  # session asked for ("?": none)
    connections: int = 0


Reply = Callable[[dict[str, Any], State], Any]


def echo(frame: dict[str, Any], state: State) -> Any:
    """A well-behaved server: suggests prefix+"c" then prefix+"b"; acks submits."""
    if frame["type"] == "complete":
        items = [
            {"text": frame["prefix"] + "c", "score": 1.0, "source": "index"},
            {"text": frame["prefix"] + "b", "score": 0.5, "source": "index"},
        ]
        return {
            "type": "completions",
            "id": frame["id"],
            "prefix": frame["prefix"],
            "items": items,
            "took_ms": 0.1,
        }
    return {"type": "ack", "id": frame["id"], "stored": True}


class ScriptedServer:
    def __init__(self, reply: Reply = echo, hello_session: str | None = None) -> None:
        self.reply = reply
        self.hello_session = hello_session
        self.state = State()
        self._server: Server | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = next(iter(self._server.sockets)).getsockname()[:2]
        return f"ws://{host}:{port}/ws"

    async def _handle(self, ws: ServerConnection) -> None:
        assert ws.request is not None
        session = parse_qs(urlsplit(ws.request.path).query).get("session", ["?"])[0]
        self.state.sessions.append(session)
        self.state.connections += 1
        issued = session if session != "?" else f"srv-{self.state.connections}"
        await ws.send(
            json.dumps(
                {"type": "hello", "session": self.hello_session or issued, "index": "fake-1"}
            )
        )
        try:
            async for raw in ws:
                frame = json.loads(raw)
                self.state.frames.append(frame)
                out = self.reply(frame, self.state)
                if out == CLOSE:
                    await ws.close(1001, "going away")
                    return
                if out == GONE:
                    assert self._server is not None
                    self._server.close()
                    return
                for msg in out if isinstance(out, list) else [out] if out else []:
                    await ws.send(json.dumps(msg))
        except ConnectionClosed:
            pass

    async def __aenter__(self) -> ScriptedServer:
        self._server = await serve(self._handle, "127.0.0.1", 0)
        return self

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
