"""What the server decides before accepting a WebSocket: who is typing, and from which page.

Pure functions and one small class over header and parameter values, so each rule is tested
without a socket.

* The **user** comes only from a verified credential (`auth.TokenVerifier`): the `token` query
  parameter, else the `qac_token` cookie; or from a header set by a configured trusted proxy,
  believed only on connections from the proxy's addresses. A bare `user` parameter is not an
  identity: it is ignored. No valid credential: the connection is anonymous.
* The **session** id comes from the `session` parameter, else the session cookie. It is
  adopted only when this server signed it for the same user (`auth.SessionSigner`); anything
  else (made up, tampered, issued to somebody else, or the literal `new`) gets a fresh id,
  which the client learns from `hello` and the cookie.
* The **Origin** check stops a page on another site from opening a socket in the visitor's
  name (cross-site WebSocket hijacking): browsers always send Origin, so it is checked when
  present; the server's own origin (scheme included) is always allowed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from .auth import Rejection, SessionSigner, TokenVerifier, Verdict, user_verdict
from .peers import Network, Peer, resolve_peer

SESSION_PARAM, SESSION_COOKIE = "session", "qac_session"
TOKEN_PARAM, TOKEN_COOKIE = "token", "qac_token"
#: Browsers only accept a `__Host-` cookie when it is Secure, host-only and Path=/, so a
#: sibling subdomain or a plain-http page cannot plant one.
HOST_PREFIX = "__Host-"
#: Longest credential read; a JWT a site mints for this is a few hundred bytes.
MAX_TOKEN_CHARS = 4096


@dataclass(frozen=True, slots=True)
class Identity:
    """session: always set. user: the verified user id, or None (anonymous).
    new_session: the server issued the session id now (so it sets the cookie).
    rejected: why a credential that was presented did not identify anyone, else None.
    peer: the client's address and transport, for per-client limits and cookies.
    """

    session: str
    user: str | None
    new_session: bool
    rejected: Rejection | None = None
    peer: Peer = Peer("unknown", False, False)

    @property
    def auth(self) -> str:
        return "anonymous" if self.user is None else "user"


class Authenticator:
    """Turns one handshake's parameters, cookies and headers into an `Identity`.

    verifier: None when no JWT key is configured (then only a trusted proxy can name users).
    proxies: addresses whose forwarding headers and `user_header` are believed.
    user_header: the (lowercase) header a trusted proxy puts the user id in; None: no header.
    """

    def __init__(
        self,
        verifier: TokenVerifier | None,
        signer: SessionSigner,
        proxies: Sequence[Network] = (),
        user_header: str | None = None,
    ) -> None:
        self.verifier = verifier
        self.signer = signer
        self.proxies = tuple(proxies)
        self.user_header = user_header.lower() if user_header else None

    def identify(
        self,
        params: Mapping[str, str],
        cookies: Mapping[str, str],
        headers: Mapping[str, str],
        tcp_peer: str | None,
        scheme: str,
    ) -> Identity:
        peer = resolve_peer(
            tcp_peer,
            scheme,
            headers.get("x-forwarded-for"),
            headers.get("x-forwarded-proto"),
            self.proxies,
        )
        verdict = self._user(params, cookies, headers, peer)
        session = _first_present(params, cookies, SESSION_PARAM, SESSION_COOKIE)
        if self.signer.valid(session, verdict.user):
            assert session is not None
            return Identity(session, verdict.user, False, verdict.rejected, peer)
        return Identity(self.signer.issue(verdict.user), verdict.user, True, verdict.rejected, peer)

    def _user(
        self,
        params: Mapping[str, str],
        cookies: Mapping[str, str],
        headers: Mapping[str, str],
        peer: Peer,
    ) -> Verdict:
        if self.user_header is not None and peer.via_proxy:
            asserted = headers.get(self.user_header)
            if asserted is not None:
                return user_verdict(asserted.strip())
        token = _first_present(params, cookies, TOKEN_PARAM, TOKEN_COOKIE)
        if token is None or not token:
            return Verdict(None)
        if self.verifier is None or len(token) > MAX_TOKEN_CHARS:
            return Verdict(None, "invalid")
        return self.verifier.verify(token)


def _first_present(
    params: Mapping[str, str], cookies: Mapping[str, str], param: str, cookie: str
) -> str | None:
    """The parameter when given (even if malformed: an explicit value is never silently
    swapped for the cookie's), else the `__Host-` cookie, else the plain cookie."""
    if param in params:
        return params[param]
    return cookies.get(HOST_PREFIX + cookie, cookies.get(cookie))


def session_cookie(session: str, secure: bool) -> str:
    """Set-Cookie value that keeps a browser tab's reconnects in the same session.

    Behind TLS the cookie is `__Host-`-prefixed and Secure. No Max-Age: it ends with the
    browser session; the store forgets idle sessions anyway.
    """
    if secure:
        return f"{HOST_PREFIX}{SESSION_COOKIE}={session}; Path=/; SameSite=Lax; HttpOnly; Secure"
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


_HOST = re.compile(r"[A-Za-z0-9.\-\[\]:]{1,255}")


def origin_allowed(
    origin: str | None, host: str | None, allowed: Sequence[str], secure: bool = False
) -> bool:
    """May a browser page at `origin` open a socket to this server (reached as `host`)?

    The server's own origin (`http(s)://<Host header>`, https when `secure`) is always
    allowed. `allowed`: `ServerConfig.allowed_origins`, more origins (scheme, host and port
    compared; default ports may be omitted), or `*` for any. No Origin header (a non-browser
    client): allowed.
    """
    if origin is None:
        return True
    if "*" in allowed:
        return True
    key = _origin_key(origin)
    if key is None:
        return False  # includes the literal "null" origin of sandboxed frames and files
    if host is not None and _HOST.fullmatch(host):
        own = _origin_key(f"{'https' if secure else 'http'}://{host}")
        if own == key:
            return True
    return any(_origin_key(a) == key for a in allowed)
