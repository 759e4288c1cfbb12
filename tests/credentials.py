"""Credentials the way an embedding site would mint them, for tests that need a known user.

Live test servers verify tokens with `TEST_JWT_SECRET` (`tests.live_server.LiveServer` sets
`QAC_JWT_SECRET` to it unless a test says otherwise).
"""

from __future__ import annotations

import time
from urllib.parse import urlencode

from autocomplete.server.auth import mint_token

TEST_JWT_SECRET = "test-only-jwt-secret-0123456789abcdef"
#: Signs session ids on live test servers (`QAC_SESSION_SECRET`).
TEST_SESSION_SECRET = "test-only-session-secret-0123456789abcdef"
#: Shows `/healthz` details on live test servers (`QAC_HEALTH_TOKEN`).
TEST_HEALTH_TOKEN = "test-only-health-token"


def user_token(user: str, ttl_s: float = 3600.0, secret: str = TEST_JWT_SECRET) -> str:
    return mint_token(secret, user, ttl_s=ttl_s, now=time.time())


def as_user(ws_url: str, user: str, session: str | None = None) -> str:
    """`ws_url` with a token for `user` (and a session id to resume, if given)."""
    params = {"token": user_token(user)}
    if session is not None:
        params["session"] = session
    return f"{ws_url}?{urlencode(params)}"
