"""`GET /v1/complete?prefix=...&prev=...&k=...`: completions over plain HTTP.

For clients that hold no socket (a backend, a script, a `curl`). The answer is the body of a
`completions` frame (docs/protocol/asyncapi.yaml) with `"id": null`; a refusal is an `error`
frame with an HTTP status: 400 `bad_request`, 429 `rate_limited` (with Retry-After), 503
`unavailable`, 403 for a browser page of an origin the server does not allow.

Anonymous by construction: there is no session and no user, so nothing here reads or writes
anyone's history. `prev` (repeatable, oldest first) carries the caller's own previous queries
of the session it is completing for, which the ranker uses as a WebSocket session's context.
An empty prefix gets the index's most popular queries.

Everything else is the WebSocket's rule, through the same code: the field validators of
`protocol` (raw length, surrogates and combining marks before normalising, limits after, `k`
clamped), the client address's frame budget (`ClientLimits.allow_frame`: a request spends
one frame token, shared with that address's sockets), and the blocklist and fresh merge
(`Services.ranked`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import Response

from autocomplete.ranking import Context

from .errors import ErrorCode, ProtocolError
from .logs import LogLimiter
from .peers import Peer
from .protocol import completions_frame, error_frame, k_field, prefix_field, query_field
from .services import Services

log = logging.getLogger("autocomplete.server")
_logs = LogLimiter(log)

#: Previous queries a request may carry (a WebSocket session keeps as many).
MAX_PREV = 10
#: Seconds a rate-limited caller is told to wait.
RETRY_AFTER_S = 1
_STATUS: dict[ErrorCode, int] = {"bad_request": 400, "rate_limited": 429, "unavailable": 503}
_INTEGER = re.compile(r"-?[0-9]{1,12}")
_JSON = "application/json"


class HttpCompletions:
    """The endpoint. services: what the app's connections share (ranker, limits, blocklist,
    fresh feed, client budget). peer_of: the request's client (proxy-aware). origin_ok: may a
    page of this origin use the server (the check `/ws` makes)."""

    def __init__(
        self,
        services: Services,
        peer_of: Callable[[Request], Peer],
        origin_ok: Callable[[str, Request], bool],
    ) -> None:
        self.services = services
        self.peer_of = peer_of
        self.origin_ok = origin_ok

    async def __call__(self, request: Request) -> Response:
        s = self.services
        started = s.clock()
        origin = request.headers.get("origin")
        if origin is not None and not self.origin_ok(origin, request):
            return _error(403, "bad_request", "origin not allowed")
        clients = s.clients
        if clients is not None and not clients.allow_frame(self.peer_of(request).address):
            s.metrics.errors.labels("rate_limited").inc()
            return _error(
                _STATUS["rate_limited"],
                "rate_limited",
                "too many requests from your address; slow down",
                {"Retry-After": str(RETRY_AFTER_S)},
            )
        try:
            prefix, previous, k = self.parse(request)
        except ProtocolError as exc:
            s.metrics.request_of["invalid"].inc()
            s.metrics.errors.labels(exc.code).inc()
            return _error(_STATUS[exc.code], exc.code, exc.message)
        s.metrics.request_of["complete"].inc()
        try:
            if prefix:
                items = s.ranked(Context(previous, (), s.wall_clock()), prefix, k)
            else:
                items = s.on_focus((), (), k)
        except Exception:
            _logs.log(logging.ERROR, "http-ranker", "ranker failed on HTTP", exc_info=True)
            s.metrics.errors.labels("unavailable").inc()
            return _error(503, "unavailable", "completions are unavailable for this prefix")
        took = s.clock() - started
        s.metrics.completion_latency.observe(took)
        body = completions_frame(None, prefix, items, took * 1000.0)
        return Response(body, media_type=_JSON, headers={"Cache-Control": "no-store"})

    def parse(self, request: Request) -> tuple[str, tuple[str, ...], int]:
        """(normalised prefix, previous queries, k) of the query string; `ProtocolError`."""
        params = request.query_params
        limits = self.services.limits
        prefixes = params.getlist("prefix")
        if len(prefixes) != 1:
            raise ProtocolError(
                f"parameter 'prefix' must be given once (it may be empty), got {len(prefixes)}"
            )
        prefix = prefix_field({"prefix": prefixes[0]}, limits)
        raw_prev = params.getlist("prev")
        if len(raw_prev) > MAX_PREV:
            raise ProtocolError(f"at most {MAX_PREV} 'prev' parameters, got {len(raw_prev)}")
        previous = tuple(query_field({"prev": p}, limits, "prev") for p in raw_prev)
        ks = params.getlist("k")
        if len(ks) > 1:
            raise ProtocolError(f"parameter 'k' must be given at most once, got {len(ks)}")
        message: dict[str, object] = {}
        if ks:
            raw = ks[0].strip()
            message["k"] = int(raw) if _INTEGER.fullmatch(raw) else raw
        return prefix, previous, k_field(message, limits)


def _error(
    status: int, code: ErrorCode, message: str, headers: dict[str, str] | None = None
) -> Response:
    return Response(
        error_frame(None, code, message),
        status_code=status,
        media_type=_JSON,
        headers={"Cache-Control": "no-store", **(headers or {})},
    )
