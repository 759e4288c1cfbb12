"""Credentials the way an embedding site would mint them, for tests that need a known user.

Live test servers verify tokens with `TEST_JWT_SECRET` (`tests.live_server.LiveServer` sets
`QAC_JWT_SECRET` to it unless a test says otherwise).
"""

from __future__ import annotations

import time
from urllib.parse import urlencode

import jwt

TEST_JWT_SECRET = "test-only-jwt-secret-0123456789abcdef"
#: Signs session ids on live test servers (`QAC_SESSION_SECRET`).
TEST_SESSION_SECRET = "test-only-session-secret-0123456789abcdef"
#: Shows `/healthz` details on live test servers (`QAC_HEALTH_TOKEN`).
TEST_HEALTH_TOKEN = "test-only-health-token"


def user_token(
    user: str, ttl_s: float = 3600.0, secret: str = TEST_JWT_SECRET, now: float | None = None
) -> str:
    """An HS256 token for `user`, minted with PyJWT directly (not with the server's code)."""
    issued = time.time() if now is None else now
    claims = {"sub": user, "iat": int(issued), "exp": int(issued + ttl_s)}
    return jwt.encode(claims, secret, algorithm="HS256")


def as_user(ws_url: str, user: str, session: str | None = None) -> str:
    """`ws_url` with a token for `user` (and a session id to resume, if given)."""
    params = {"token": user_token(user)}
    if session is not None:
        params["session"] = session
    return f"{ws_url}?{urlencode(params)}"
