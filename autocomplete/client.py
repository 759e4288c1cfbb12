"""An asyncio client for the completion protocol (docs/protocol/asyncapi.yaml), for programs
that talk to `autocomplete serve` over its WebSocket:

    async with await QacClient.connect("ws://localhost:8000/ws", token=jwt) as qac:
        print(qac.hello.session, qac.hello.limits)
        reply = await qac.complete("new yo", k=5)
        print([item.text for item in reply.items])
        await qac.submit("new york times")        # True: the session store kept it
        await qac.forget("new york times")        # or forget(all=True)

One request is in flight at a time per client (requests wait their turn): the server answers
only a connection's newest `complete`, so overlapping completes on one socket would lose
answers anyway. Answers to earlier requests that arrive late are skipped (`stale`), as are
frames that are not JSON objects (`malformed`). An `error` frame answering a request raises
`RequestFailed`; an `error` without an id (the server refused the frame before reading it,
e.g. `rate_limited`) answers the request in flight.

No retries here: what to do after `ConnectFailed`, `ConnectionLost` or a `rate_limited` is
the caller's policy (the replay tool's is in `autocomplete.replay`).
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI

#: HTTP answers to a handshake that waiting will not fix.
PERMANENT_STATUS = frozenset({400, 401, 403, 404, 405, 426})
DEFAULT_TIMEOUT_S = 10.0

RequestId = int | str


class QacError(Exception):
    """Root of every error this client raises on purpose."""


class ConnectFailed(QacError):
    """A connection attempt failed; `permanent` when trying again cannot help (a bad URL, a
    handshake refused for good, a server that does not speak the protocol)."""

    def __init__(self, reason: str, permanent: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent


class ConnectionLost(QacError):
    """The connection closed before the answer came."""


class RequestFailed(QacError):
    """The server answered a request with an `error` frame: `code` is bad_request,
    rate_limited or unavailable."""

    def __init__(self, code: str, message: str, request_id: RequestId | None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.request_id = request_id


class UnexpectedReply(QacError):
    """An answer of a type the request cannot have (a server speaking another protocol)."""


@dataclass(frozen=True)
class Limits:
    """What the server serves (from `hello`): a larger `k` is served as `max_k`; longer
    prefixes and queries are refused."""

    max_k: int
    max_prefix_chars: int
    max_query_chars: int


@dataclass(frozen=True)
class Hello:
    """The server's first frame. `protocol` and `limits` are None from a server older than
    protocol 1; `auth_error` says why a presented token identified nobody."""

    session: str
    index: str
    auth: str
    auth_error: str | None
    protocol: int | None
    limits: Limits | None
    frame: Mapping[str, Any] = field(repr=False)

    @classmethod
    def from_frame(cls, frame: Mapping[str, Any]) -> Hello:
        raw_limits = frame.get("limits")
        limits = None
        if isinstance(raw_limits, dict):
            limits = Limits(
                int(raw_limits["max_k"]),
                int(raw_limits["max_prefix_chars"]),
                int(raw_limits["max_query_chars"]),
            )
        protocol = frame.get("protocol")
        return cls(
            session=str(frame["session"]),
            index=str(frame.get("index", "")),
            auth=str(frame.get("auth", "anonymous")),
            auth_error=frame.get("auth_error"),
            protocol=protocol if isinstance(protocol, int) else None,
            limits=limits,
            frame=frame,
        )


@dataclass(frozen=True)
class Item:
    """One completion. `match`: the [start, end) of `text` standing for what was typed (None
    when the server did not say); `corrected`: it extends a spelling correction of the
    prefix, whose first `typed` characters stand for what was typed."""

    text: str
    score: float
    source: str
    match: tuple[int, int] | None = None
    corrected: bool = False
    typed: int | None = None

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Item:
        match = raw.get("match")
        return cls(
            text=str(raw["text"]),
            score=float(raw.get("score", 0.0)),
            source=str(raw.get("source", "index")),
            match=(int(match[0]), int(match[1])) if isinstance(match, list | tuple) else None,
            corrected=raw.get("corrected") is True,
            typed=raw.get("typed") if isinstance(raw.get("typed"), int) else None,
        )


@dataclass(frozen=True)
class Completions:
    """The answer to `complete`: `prefix` as the server normalised it, items best first."""

    prefix: str
    items: tuple[Item, ...]
    took_ms: float | None

    @classmethod
    def from_frame(cls, frame: Mapping[str, Any]) -> Completions:
        took = frame.get("took_ms")
        return cls(
            prefix=str(frame.get("prefix", "")),
            items=tuple(Item.from_dict(i) for i in frame.get("items", ()) if isinstance(i, dict)),
            took_ms=float(took) if isinstance(took, int | float) else None,
        )


def with_params(url: str, **params: str | None) -> str:
    """`url` with the given query parameters set (None: left as it is); others kept."""
    given = {k: v for k, v in params.items() if v is not None}
    parts = urlsplit(url)
    kept = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in given]
    return urlunsplit(parts._replace(query=urlencode([*kept, *given.items()])))


def session_url(url: str, session_id: str) -> str:
    """`url` with its `session` query parameter set to `session_id` (others kept)."""
    return with_params(url, session=session_id)


def check_url(url: str) -> str:
    """`url` if it looks like a WebSocket URL, else `ConnectFailed` (permanent)."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError as exc:
        raise ConnectFailed(f"bad URL {url!r}: {exc}", permanent=True) from None
    if parts.scheme not in ("ws", "wss") or not parts.hostname:
        raise ConnectFailed(
            f"bad URL {url!r}: expected ws://HOST:PORT/ws or wss://...", permanent=True
        )
    return url


def _describe(exc: BaseException, open_timeout_s: float) -> ConnectFailed:
    if isinstance(exc, InvalidURI):
        return ConnectFailed(f"bad URL: {exc}", permanent=True)
    if isinstance(exc, InvalidStatus):
        status = exc.response.status_code
        return ConnectFailed(
            f"handshake refused with HTTP {status}", permanent=status in PERMANENT_STATUS
        )
    if isinstance(exc, ConnectionRefusedError):
        return ConnectFailed("connection refused")
    if isinstance(exc, socket.gaierror):
        return ConnectFailed(f"cannot resolve host ({exc.strerror})")
    if isinstance(exc, TimeoutError):
        return ConnectFailed(f"no answer within {open_timeout_s:g}s")
    if isinstance(exc, OSError) and exc.strerror:
        return ConnectFailed(exc.strerror.lower())
    return ConnectFailed(str(exc) or type(exc).__name__)


def decode(raw: str | bytes) -> dict[str, Any] | None:
    """A frame as a JSON object, or None when it is not one."""
    try:
        msg = json.loads(raw)
    except ValueError:
        return None
    return msg if isinstance(msg, dict) else None


class QacClient:
    """One WebSocket connection to a completion server; make one with `connect`."""

    def __init__(
        self, ws: ClientConnection, hello: Hello, reply_timeout_s: float = DEFAULT_TIMEOUT_S
    ) -> None:
        self.ws = ws
        self.hello = hello
        self.reply_timeout_s = reply_timeout_s
        self.malformed = 0
        """Frames that were not JSON objects (skipped)."""
        self.stale = 0
        """Answers to earlier requests that came after their request gave up (skipped)."""
        self._lock = asyncio.Lock()
        self._ids = 0

    @classmethod
    async def connect(
        cls,
        url: str,
        *,
        token: str | None = None,
        session: str | None = None,
        headers: Mapping[str, str] | None = None,
        open_timeout_s: float = DEFAULT_TIMEOUT_S,
        reply_timeout_s: float = DEFAULT_TIMEOUT_S,
    ) -> QacClient:
        """Open a connection and read its `hello`; raises `ConnectFailed`.

        token: a JWT the embedding site issued (the connection is then that user's; without
            one it is anonymous). session: a session id this server issued earlier, to
            resume it (the session in force is `hello.session`: a server that cannot resume
            it issues a new one). headers: extra handshake headers (a `Cookie`, say).
        """
        check_url(url)
        target = with_params(url, session=session, token=token)
        try:
            ws = await connect(
                target,
                open_timeout=open_timeout_s,
                ping_interval=None,
                close_timeout=2,
                additional_headers=dict(headers or {}),
            )
        except (OSError, TimeoutError, InvalidURI, InvalidHandshake) as exc:
            raise _describe(exc, open_timeout_s) from None
        try:
            async with asyncio.timeout(open_timeout_s):
                hello = decode(await ws.recv())
        except (ConnectionClosed, TimeoutError, OSError) as exc:
            await ws.close()
            raise ConnectFailed(
                f"no hello frame after the handshake ({type(exc).__name__})"
            ) from None
        if not _is_hello(hello):
            await ws.close()
            raise ConnectFailed(
                f"expected a hello frame first, got {hello!r}"[:200], permanent=True
            )
        assert hello is not None
        return cls(ws, Hello.from_frame(hello), reply_timeout_s)

    @property
    def session(self) -> str:
        return self.hello.session

    def next_id(self) -> int:
        self._ids += 1
        return self._ids

    async def request(
        self, frame: Mapping[str, Any], timeout_s: float | None = None
    ) -> dict[str, Any]:
        """Send `frame` and return its answer: the next frame with the same `id`, or an
        `error` without one. Raises `ConnectionLost`, or `TimeoutError` after `timeout_s`
        (default `reply_timeout_s`; the connection stays usable and a late answer is
        skipped as stale)."""
        async with self._lock:
            timeout = self.reply_timeout_s if timeout_s is None else timeout_s
            try:
                await self.ws.send(json.dumps(frame, separators=(",", ":")))
                async with asyncio.timeout(timeout):
                    while True:
                        msg = decode(await self.ws.recv())
                        if msg is None:
                            self.malformed += 1
                            continue
                        rid = msg.get("id")
                        if rid == frame.get("id") or (rid is None and msg.get("type") == "error"):
                            return msg
                        self.stale += 1
            except TimeoutError:  # an OSError too, but the connection may still be fine
                raise
            except (ConnectionClosed, OSError) as exc:
                raise ConnectionLost(f"connection closed ({type(exc).__name__})") from None

    async def complete(self, prefix: str, k: int | None = None) -> Completions:
        """Completions of `prefix` (k: default the server's; above `limits.max_k` it is
        served as `max_k`). An empty prefix gets recent searches, or popular queries."""
        frame: dict[str, Any] = {"type": "complete", "id": self.next_id(), "prefix": prefix}
        if k is not None:
            frame["k"] = k
        return Completions.from_frame(_expect(await self.request(frame), "completions"))

    async def submit(self, query: str) -> bool:
        """Record `query` as run; True when the session store kept it."""
        frame = {"type": "submit", "id": self.next_id(), "query": query}
        return _expect(await self.request(frame), "ack").get("stored") is True

    async def forget(self, query: str | None = None, *, all: bool = False) -> bool:
        """Forget `query` (or everything with `all=True`) from the session and the user's
        history; True when the store kept the change."""
        if (query is None) == (not all):
            raise ValueError("forget wants either a query or all=True")
        frame: dict[str, Any] = {"type": "forget", "id": self.next_id()}
        frame.update({"all": True} if all else {"query": query})
        return _expect(await self.request(frame), "ack").get("stored") is True

    async def close(self) -> None:
        await self.ws.close()

    async def __aenter__(self) -> QacClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


def _is_hello(frame: dict[str, Any] | None) -> bool:
    return (
        frame is not None and frame.get("type") == "hello" and isinstance(frame.get("session"), str)
    )


def _expect(reply: dict[str, Any], kind: str) -> dict[str, Any]:
    if reply.get("type") == "error":
        raise RequestFailed(
            str(reply.get("code") or "unknown"), str(reply.get("message") or ""), reply.get("id")
        )
    if reply.get("type") != kind:
        raise UnexpectedReply(f"expected a {kind} frame, got {reply!r}"[:200])
    return reply
