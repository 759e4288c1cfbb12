"""Who is typing (verified credentials only), which session, and the Origin rule (pure)."""

from __future__ import annotations

import time

import pytest

from autocomplete.server.auth import SessionSigner, TokenVerifier, mint_token
from autocomplete.server.handshake import Authenticator, origin_allowed, session_cookie
from autocomplete.server.peers import parse_networks

SECRET = "s" * 40
SESSION_SECRET = "k" * 40


def authenticator(**kwargs: object) -> Authenticator:
    verifier = TokenVerifier.from_settings(secret=SECRET, public_key_file=None)
    return Authenticator(verifier, SessionSigner(SESSION_SECRET), **kwargs)  # type: ignore[arg-type]


def identify(auth: Authenticator, params=None, cookies=None, headers=None, peer="10.0.0.5"):  # type: ignore[no-untyped-def]
    return auth.identify(params or {}, cookies or {}, headers or {}, peer, "ws")


def token(user: str, ttl_s: float = 600, now: float | None = None) -> str:
    return mint_token(SECRET, user, ttl_s=ttl_s, now=time.time() if now is None else now)


def test_without_a_credential_the_connection_is_anonymous() -> None:
    identity = identify(authenticator())
    assert identity.user is None and identity.auth == "anonymous" and identity.rejected is None


def test_a_bare_user_parameter_or_cookie_is_not_an_identity() -> None:
    identity = identify(authenticator(), {"user": "alice"}, {"qac_user": "alice"})
    assert identity.user is None


def test_a_valid_token_names_the_user_from_its_subject() -> None:
    assert identify(authenticator(), {"token": token("alice")}).user == "alice"
    assert identify(authenticator(), cookies={"qac_token": token("bob")}).user == "bob"
    assert identify(authenticator(), cookies={"__Host-qac_token": token("bob")}).user == "bob"


def test_an_expired_token_is_refused_and_says_why() -> None:
    old = token("alice", ttl_s=60, now=time.time() - 3600)
    identity = identify(authenticator(), {"token": old})
    assert identity.user is None and identity.rejected == "expired"


def test_a_token_within_the_clock_skew_still_counts() -> None:
    just_expired = token("alice", ttl_s=60, now=time.time() - 70)  # expired 10 s ago
    assert identify(authenticator(), {"token": just_expired}).user == "alice"


@pytest.mark.parametrize(
    "forged",
    [
        mint_token("x" * 40, "alice", ttl_s=600, now=time.time()),  # another site's secret
        "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhbGljZSIsImV4cCI6OTk5OTk5OTk5OX0.",  # alg: none
        "not a jwt",
        "a" * 5000,
    ],
)
def test_forged_or_malformed_tokens_identify_nobody(forged: str) -> None:
    identity = identify(authenticator(), {"token": forged})
    assert identity.user is None and identity.rejected == "invalid"


def test_a_token_without_exp_is_refused() -> None:
    import jwt

    no_exp = jwt.encode({"sub": "alice"}, SECRET, algorithm="HS256")
    assert identify(authenticator(), {"token": no_exp}).rejected == "invalid"


def test_a_subject_that_cannot_key_history_is_refused() -> None:
    identity = identify(authenticator(), {"token": token("{alice}")})
    assert identity.user is None and identity.rejected == "unusable_subject"


def test_without_a_configured_key_no_token_is_believed() -> None:
    auth = Authenticator(None, SessionSigner(SESSION_SECRET))
    identity = identify(auth, {"token": token("alice")})
    assert identity.user is None and identity.rejected == "invalid"


def test_a_trusted_proxy_header_counts_only_from_the_proxy() -> None:
    auth = authenticator(proxies=parse_networks(["10.9.0.0/16"]), user_header="X-Auth-User")
    via_proxy = identify(auth, headers={"x-auth-user": "carol"}, peer="10.9.1.1")
    direct = identify(auth, headers={"x-auth-user": "carol"}, peer="203.0.113.7")
    assert via_proxy.user == "carol"
    assert direct.user is None, "anyone else's header is ignored"


def test_without_a_session_id_a_fresh_signed_one_is_issued() -> None:
    auth = authenticator()
    first, second = identify(auth), identify(auth)
    assert first.new_session and first.session != second.session
    assert auth.signer.valid(first.session, None)


def test_an_issued_session_is_resumed_from_the_parameter_or_the_cookie() -> None:
    auth = authenticator()
    issued = identify(auth).session
    by_param = identify(auth, {"session": issued})
    by_cookie = identify(auth, cookies={"qac_session": issued})
    assert by_param.session == by_cookie.session == issued
    assert not by_param.new_session and not by_cookie.new_session


@pytest.mark.parametrize("made_up", ["demo-tab-1", "../../etc", "new", "a.b", "x" * 200])
def test_a_made_up_session_id_is_replaced_never_adopted(made_up: str) -> None:
    identity = identify(authenticator(), {"session": made_up})
    assert identity.new_session and identity.session != made_up


def test_a_tampered_session_id_is_replaced() -> None:
    auth = authenticator()
    issued = identify(auth).session
    nonce, tag = issued.split(".")
    tampered = f"{nonce[:-1]}{'A' if nonce[-1] != 'A' else 'B'}.{tag}"
    assert identify(auth, {"session": tampered}).session != tampered


def test_a_session_issued_to_one_user_does_not_resume_for_another_or_for_nobody() -> None:
    auth = authenticator()
    alices = identify(auth, {"token": token("alice")}).session
    assert identify(auth, {"token": token("alice"), "session": alices}).session == alices
    assert identify(auth, {"token": token("bob"), "session": alices}).session != alices
    assert identify(auth, {"session": alices}).session != alices


def test_another_servers_secret_does_not_validate_our_sessions() -> None:
    ours = identify(authenticator()).session
    theirs = Authenticator(None, SessionSigner("o" * 40))
    assert identify(theirs, {"session": ours}).new_session


def test_session_cookie_is_http_only_and_site_wide() -> None:
    assert session_cookie("abc", secure=False) == "qac_session=abc; Path=/; SameSite=Lax; HttpOnly"


def test_behind_tls_the_session_cookie_is_secure_and_host_prefixed() -> None:
    cookie = session_cookie("abc", secure=True)
    assert cookie.startswith("__Host-qac_session=abc;")
    assert "; Secure" in cookie and "Path=/" in cookie and "Domain" not in cookie


def test_clients_without_origin_are_allowed() -> None:
    assert origin_allowed(None, "localhost:8000", ())
    assert origin_allowed(None, None, ("https://a.example",))


@pytest.mark.parametrize(
    ("origin", "host", "secure", "allowed"),
    [
        ("http://127.0.0.1:8000", "127.0.0.1:8000", False, True),
        ("http://LOCALHOST:8000", "localhost:8000", False, True),
        ("https://qac.example", "qac.example", True, True),
        ("https://qac.example:443", "qac.example", True, True),
        ("http://qac.example", "qac.example", True, False),  # a plain-http page on a TLS host
        ("https://qac.example", "qac.example", False, False),
        ("http://evil.example", "127.0.0.1:8000", False, False),
        ("http://127.0.0.1:9000", "127.0.0.1:8000", False, False),
        ("null", "127.0.0.1:8000", False, False),
        ("http://127.0.0.1:8000", None, False, False),
    ],
)
def test_by_default_only_the_same_origin_scheme_included_is_allowed(
    origin: str, host: str | None, secure: bool, allowed: bool
) -> None:
    assert origin_allowed(origin, host, (), secure) is allowed


def test_an_allow_list_adds_exactly_its_origins_to_the_servers_own() -> None:
    allowed = ("https://app.example", "http://localhost:3000")
    assert origin_allowed("https://app.example", "api.example", allowed, True)
    assert origin_allowed("https://app.example:443", "api.example", allowed, True)
    assert origin_allowed("http://localhost:3000", "api.example", allowed, True)
    assert not origin_allowed("http://app.example", "api.example", allowed, True)
    assert not origin_allowed("https://app.example.evil.com", "api.example", allowed, True)
    assert origin_allowed("https://api.example", "api.example", allowed, True), (
        "the server's own page keeps working when a list is set"
    )


def test_a_star_admits_any_origin() -> None:
    assert origin_allowed("http://anything.example", "h", ("*",))
