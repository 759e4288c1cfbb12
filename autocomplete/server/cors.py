"""Cross-origin reads (CORS): which other sites' pages may use what an HTTP route sends.

A site that embeds the widget loads it with `<script type="module" src=...>` from this
server: browsers fetch module scripts in CORS mode and refuse to run one whose response does
not name the page's origin in `Access-Control-Allow-Origin`. Pages calling `/v1/complete`
with `fetch` are in the same position. `CrossOrigin` wraps such a route and adds the header
for the origins the server trusts, the same ones that may open `/ws` (the check is passed in:
`handshake.origin_allowed` decides both, so the two can never disagree).

Nothing here grants credentials (no `Access-Control-Allow-Credentials`): what these routes
serve is the same for everyone. A disallowed origin gets the response without the header,
so its page cannot read it; the route itself decides whether to answer at all.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import HTTPConnection
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: (origin, the request) -> may a page of that origin read the response?
OriginCheck = Callable[[str, HTTPConnection], bool]
#: How long a browser may reuse a preflight answer.
PREFLIGHT_MAX_AGE_S = 600


class CrossOrigin:
    """ASGI wrapper adding CORS headers to `app`'s responses for allowed origins.

    allowed: the origin check (see `OriginCheck`).
    any_origin: every origin is allowed (`QAC_ALLOWED_ORIGINS=*`): the header is then `*`,
        one response for all, so shared caches need no `Vary: Origin`.
    methods: what a preflight (`OPTIONS` with `Access-Control-Request-Method`) may ask for;
        other methods get the preflight answered without permission.
    """

    def __init__(
        self,
        app: ASGIApp,
        allowed: OriginCheck,
        *,
        any_origin: bool = False,
        methods: tuple[str, ...] = ("GET", "HEAD"),
    ) -> None:
        self.app = app
        self.allowed = allowed
        self.any_origin = any_origin
        self.methods = methods

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        origin = headers.get("origin")
        granted = origin is not None and self.allowed(origin, HTTPConnection(scope))
        if scope["method"] == "OPTIONS" and "access-control-request-method" in headers:
            await self._preflight(granted, origin, headers)(scope, receive, send)
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                self._add(MutableHeaders(scope=message), origin if granted else None)
            await send(message)

        await self.app(scope, receive, send_with_cors)

    def _preflight(self, granted: bool, origin: str | None, headers: Headers) -> Response:
        response = Response(status_code=204)
        wanted = headers["access-control-request-method"].strip().upper()
        if granted and wanted in self.methods:
            self._add(response.headers, origin)
            response.headers["access-control-allow-methods"] = ", ".join(self.methods)
            response.headers["access-control-max-age"] = str(PREFLIGHT_MAX_AGE_S)
        else:
            self._add(response.headers, None)
        return response

    def _add(self, headers: MutableHeaders, origin: str | None) -> None:
        """The allow header for `origin` (None: not allowed), and `Vary: Origin` whenever the
        answer depends on who asks, so a cache never hands one origin's copy to another."""
        if self.any_origin:
            if origin is not None:
                headers["access-control-allow-origin"] = "*"
            return
        if origin is not None:
            headers["access-control-allow-origin"] = origin
        headers.add_vary_header("Origin")
