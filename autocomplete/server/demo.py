"""`POST /demo/token`: a token for any user id, so the demo page can show personal history.

A real site mints tokens for users it has logged in (see README, "Identity"). The demo has no
login, so with `demo_tokens` on the server mints one for whatever user id the page asks for:
anyone can then be anyone, which is why it is off unless asked for (`make demo` asks) and the
server warns at start.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .auth import mint_token, user_verdict

#: Lifetime of a demo token; the widget asks for a new one when it reconnects.
DEMO_TOKEN_TTL_S = 3600
#: Longest request body read.
_MAX_BODY = 1024


def demo_token_endpoint(
    secret: str, audience: str | None, issuer: str | None
) -> Callable[[Request], Awaitable[Response]]:
    async def issue(request: Request) -> Response:
        body = await request.body()
        if len(body) > _MAX_BODY:
            return JSONResponse({"error": "body too large"}, status_code=413)
        try:
            payload = json.loads(body or b"{}")
        except ValueError:
            return JSONResponse({"error": "body must be JSON"}, status_code=400)
        user = payload.get("user") if isinstance(payload, dict) else None
        verdict = user_verdict(user)
        if verdict.user is None:
            return JSONResponse(
                {"error": "field 'user' must be 1-128 printable ASCII characters, no spaces"},
                status_code=400,
            )
        token = mint_token(
            secret,
            verdict.user,
            ttl_s=DEMO_TOKEN_TTL_S,
            now=time.time(),
            audience=audience,
            issuer=issuer,
        )
        return JSONResponse(
            {"token": token, "user": verdict.user, "expires_in": DEMO_TOKEN_TTL_S},
            headers={"Cache-Control": "no-store"},
        )

    return issue
