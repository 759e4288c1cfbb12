"""What the server decides before accepting a WebSocket: who is typing, and from which page.

Pure functions over header and parameter values, so each rule is tested without a socket.

* Session and user ids come from the `session` / `user` query parameters, else the
  `qac_session` / `qac_user` cookies. They are keys in the session store and appear in logs,
  so only `[A-Za-z0-9_-]{1,64}` is accepted; a malformed session id is replaced by a fresh
  random one (the client learns it from `hello`), a malformed user id is dropped.
* The Origin check stops a page on another site from opening a socket in the visitor's name
  (cross-site WebSocket hijacking): browsers always send Origin, so it is checked when present.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

SESSION_PARAM, SESSION_COOKIE = "session", "qac_session"
USER_PARAM, USER_COOKIE = "user", "qac_user"

_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def valid_id(value: str | None) -> str | None:
    """`value` if it is a well-formed session or user id, else None."""
    if value is not None and _ID.fullmatch(value):
        return value
    return None


def new_session_id() -> str:
    """A fresh unguessable session id (22 URL-safe characters, 128 bits)."""
    return secrets.token_urlsafe(16)


def redact(user_id: str) -> str:
    """A stable short stand-in for a user id in logs: never log who someone is in clear."""
    return "u:" + hashlib.sha256(user_id.encode()).hexdigest()[:10]


@dataclass(frozen=True, slots=True)
class Identity:
    """session: always set. user: None when the client named no (valid) user.
    new_session: True when the server made the session id up (so it sets the cookie)."""

    session: str
    user: str | None
    new_session: bool


def _first_present(
    params: Mapping[str, str], cookies: Mapping[str, str], param: str, cookie: str
) -> str | None:
    """The parameter when given (even if malformed: an explicit id is never silently
    swapped for the cookie's), else the cookie."""
    if param in params:
        return params[param]
    return cookies.get(cookie)


def resolve_identity(params: Mapping[str, str], cookies: Mapping[str, str]) -> Identity:
    session = valid_id(_first_present(params, cookies, SESSION_PARAM, SESSION_COOKIE))
    user = valid_id(_first_present(params, cookies, USER_PARAM, USER_COOKIE))
    if session is None:
        return Identity(new_session_id(), user, True)
    return Identity(session, user, False)


def session_cookie(session: str) -> str:
    """Set-Cookie value that keeps a browser tab's reconnects in the same session.

    No Max-Age: it ends with the browser session; the store forgets idle sessions anyway.
    """
    return f"{SESSION_COOKIE}={session}; Path=/; SameSite=Lax; HttpOnly"


def _origin_key(url: str) -> tuple[str, str] | None:
    """(scheme, host[:port]) of an origin, lowercased, default ports dropped."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    if not parts.scheme or not parts.hostname:
        return None
    scheme = parts.scheme.lower()
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    if port is not None and (scheme, port) not in (("http", 80), ("https", 443)):
        host = f"{host}:{port}"
    return scheme, host


def origin_allowed(origin: str | None, host: str | None, allowed: Sequence[str]) -> bool:
    """May a browser page at `origin` open a socket to this server (reached as `host`)?

    allowed: `ServerConfig.allowed_origins`. Empty: same origin only (the Origin's host and
    port equal the Host header). `*` in it: any origin. Otherwise the Origin must be listed
    (scheme, host and port compared; default ports may be omitted).
    No Origin header (a non-browser client): allowed.
    """
    if origin is None:
        return True
    if "*" in allowed:
        return True
    key = _origin_key(origin)
    if key is None:
        return False  # includes the literal "null" origin of sandboxed frames and files
    if not allowed:
        if host is None:
            return False
        own = _origin_key(f"{key[0]}://{host}")
        return own is not None and own[1] == key[1]
    return any(_origin_key(a) == key for a in allowed)
