"""Who is typing: a verified credential in, a user id (or nobody) out; signed session ids.

A user id keys that person's search history, so it may only come from something the
embedding site vouches for, never from what a client claims:

* `TokenVerifier` checks a JWT the site issued (HS256 with a shared secret, or RS256/ES256
  with the site's public key), with `exp` required, a small clock skew allowed, and the
  audience and issuer checked when configured. The user id is the `sub` claim.
* `SessionSigner` issues session ids and recognises its own: an id is a random part plus an
  HMAC of that part and the user it was issued to, so a made-up or tampered id, or one issued
  to somebody else, is replaced by a fresh one instead of being adopted.

Pure: no sockets, no clocks of our own (PyJWT reads the time for `exp`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import jwt

from .errors import ConfigError

#: Shortest HS256 secret accepted (RFC 7518 section 3.2: a key at least as long as the hash).
MIN_SECRET_BYTES = 32
#: User ids (`sub`) we can key history by: printable ASCII without spaces or braces (braces
#: are Redis Cluster hash-tag syntax), as long as the session store allows.
_USER_ID = re.compile(r"[\x21-\x7a\x7c\x7e]{1,128}")
_NONCE = re.compile(r"[A-Za-z0-9_-]{22}")
HMAC_ALGORITHMS = ("HS256", "HS384", "HS512")
KEY_ALGORITHMS = ("RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "EdDSA")

Rejection = Literal["expired", "invalid", "unusable_subject"]


@dataclass(frozen=True, slots=True)
class Verdict:
    """The outcome of checking one credential: a user id, or why there is none."""

    user: str | None
    rejected: Rejection | None = None


class TokenVerifier:
    """Checks JWTs with one key and a fixed list of algorithms (never the token's own choice).

    key: the HS secret (str) or the PEM public key text. algorithms: allowed `alg` values, all
    of one family (HMAC or public key), so a public key can never be used as an HMAC secret.
    audience, issuer: when set, the token's `aud` / `iss` must match.
    leeway_s: clock skew tolerated on `exp`, `nbf` and `iat`.
    """

    def __init__(
        self,
        key: str,
        algorithms: Sequence[str],
        *,
        audience: str | None = None,
        issuer: str | None = None,
        leeway_s: float = 30.0,
    ) -> None:
        families = {a in HMAC_ALGORITHMS for a in algorithms}
        if not algorithms or len(families) != 1:
            raise ConfigError(
                f"JWT algorithms must be all HMAC or all public-key, got {list(algorithms)}"
            )
        self._key = key
        self.algorithms = tuple(algorithms)
        self.audience = audience
        self.issuer = issuer
        self.leeway_s = leeway_s

    @classmethod
    def from_settings(
        cls,
        *,
        secret: str | None,
        public_key_file: str | None,
        algorithms: Sequence[str] = (),
        audience: str | None = None,
        issuer: str | None = None,
        leeway_s: float = 30.0,
    ) -> TokenVerifier | None:
        """The verifier the settings describe; None when no key is configured (no user can
        then be identified by token). Bad settings raise `ConfigError`."""
        if secret is not None and public_key_file is not None:
            raise ConfigError("set QAC_JWT_SECRET or QAC_JWT_PUBLIC_KEY_FILE, not both")
        if secret is not None:
            if len(secret.encode()) < MIN_SECRET_BYTES:
                raise ConfigError(
                    f"QAC_JWT_SECRET must be at least {MIN_SECRET_BYTES} bytes "
                    f"(got {len(secret.encode())})"
                )
            algs = tuple(algorithms) or ("HS256",)
            if not set(algs) <= set(HMAC_ALGORITHMS):
                raise ConfigError(f"QAC_JWT_ALGORITHMS for a secret must be HMAC, got {algs}")
            return cls(secret, algs, audience=audience, issuer=issuer, leeway_s=leeway_s)
        if public_key_file is not None:
            try:
                pem = Path(public_key_file).read_text()
            except OSError as exc:
                raise ConfigError(f"QAC_JWT_PUBLIC_KEY_FILE: cannot read it ({exc})") from None
            algs = tuple(algorithms) or ("RS256", "ES256")
            if not set(algs) <= set(KEY_ALGORITHMS):
                raise ConfigError(
                    f"QAC_JWT_ALGORITHMS for a public key must be public-key ones, got {algs}"
                )
            verifier = cls(pem, algs, audience=audience, issuer=issuer, leeway_s=leeway_s)
            verifier._check_key()
            return verifier
        if algorithms or audience or issuer:
            raise ConfigError(
                "JWT settings given without a key: set QAC_JWT_SECRET or QAC_JWT_PUBLIC_KEY_FILE"
            )
        return None

    def _check_key(self) -> None:
        """Fail at start, not at the first login, when the key file is not a usable key."""
        for alg in self.algorithms:
            try:
                jwt.get_algorithm_by_name(alg).prepare_key(self._key)
                return
            except Exception:  # noqa: BLE001 - try the next algorithm family
                continue
        raise ConfigError(
            f"QAC_JWT_PUBLIC_KEY_FILE is not a PEM public key for {list(self.algorithms)}"
        )

    def verify(self, token: str) -> Verdict:
        """The token's user, or why it is refused. Never raises for a bad token."""
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=list(self.algorithms),
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway_s,
                options={"require": ["exp", "sub"]},
            )
        except jwt.ExpiredSignatureError:
            return Verdict(None, "expired")
        except jwt.PyJWTError:
            return Verdict(None, "invalid")
        return user_verdict(claims.get("sub"))


def user_verdict(subject: object) -> Verdict:
    """A verified subject, if it is a user id the server can key history by."""
    if isinstance(subject, str) and _USER_ID.fullmatch(subject):
        return Verdict(subject)
    return Verdict(None, "unusable_subject")


def mint_token(
    secret: str,
    user: str,
    *,
    ttl_s: float,
    now: float,
    audience: str | None = None,
    issuer: str | None = None,
) -> str:
    """An HS256 token for `user`, as an embedding site would mint one (demo and tests)."""
    claims: dict[str, object] = {"sub": user, "iat": int(now), "exp": int(now + ttl_s)}
    if audience is not None:
        claims["aud"] = audience
    if issuer is not None:
        claims["iss"] = issuer
    return jwt.encode(claims, secret, algorithm="HS256")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class SessionSigner:
    """Issues session ids bound to a user (or to nobody) and recognises its own.

    id = `<22 random url-safe chars>.<22-char HMAC-SHA256 tag of the random part and user>`.
    Binding the user means a session id seen by someone else (a shared computer, a log) does
    not carry that user's context to a connection without the user's credential.
    """

    def __init__(self, secret: str) -> None:
        if len(secret.encode()) < MIN_SECRET_BYTES:
            raise ConfigError(f"QAC_SESSION_SECRET must be at least {MIN_SECRET_BYTES} bytes")
        self._key = hashlib.sha256(b"qac-session\0" + secret.encode()).digest()

    def _tag(self, nonce: str, user: str | None) -> str:
        mac = hmac.new(self._key, f"{nonce}\0{user or ''}".encode(), hashlib.sha256)
        return _b64(mac.digest()[:16])

    def issue(self, user: str | None) -> str:
        nonce = secrets.token_urlsafe(16)
        return f"{nonce}.{self._tag(nonce, user)}"

    def valid(self, session: str | None, user: str | None) -> bool:
        """Did this signer issue `session` to `user`? Constant-time in the tag."""
        if not session or len(session) > 64:
            return False
        nonce, dot, tag = session.partition(".")
        if not dot or not _NONCE.fullmatch(nonce):
            return False
        return hmac.compare_digest(tag.encode(), self._tag(nonce, user).encode())


def new_secret() -> str:
    """A random secret for one server run (sessions then end with the run)."""
    return secrets.token_urlsafe(32)
