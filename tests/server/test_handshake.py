"""Session and user ids, the session cookie, and the Origin rule (pure)."""

from __future__ import annotations

import pytest

from autocomplete.server.handshake import (
    new_session_id,
    origin_allowed,
    redact,
    resolve_identity,
    session_cookie,
    valid_id,
)


@pytest.mark.parametrize("good", ["a", "A-b_9", "x" * 64, new_session_id()])
def test_well_formed_ids_are_kept(good: str) -> None:
    assert valid_id(good) == good


@pytest.mark.parametrize("bad", [None, "", "x" * 65, "a b", "a/b", "ä", "a\n", "<script>", "a.b"])
def test_malformed_ids_are_refused(bad: str | None) -> None:
    assert valid_id(bad) is None


def test_session_comes_from_the_parameter_first_then_the_cookie() -> None:
    assert resolve_identity({"session": "p1"}, {"qac_session": "c1"}).session == "p1"
    identity = resolve_identity({}, {"qac_session": "c1"})
    assert identity.session == "c1" and not identity.new_session


def test_without_a_session_id_a_fresh_one_is_made() -> None:
    first, second = resolve_identity({}, {}), resolve_identity({}, {})
    assert first.new_session and valid_id(first.session)
    assert first.session != second.session


def test_a_malformed_session_id_is_replaced_not_trusted() -> None:
    identity = resolve_identity({"session": "../../etc"}, {"qac_session": "c1"})
    assert identity.new_session and identity.session not in ("../../etc", "c1")


def test_user_is_optional_and_validated() -> None:
    assert resolve_identity({}, {}).user is None
    assert resolve_identity({"user": "bob"}, {}).user == "bob"
    assert resolve_identity({}, {"qac_user": "ann"}).user == "ann"
    assert resolve_identity({"user": "bob smith"}, {"qac_user": "ann"}).user is None


def test_redacted_user_ids_are_stable_and_do_not_contain_the_id() -> None:
    assert redact("secretbob") == redact("secretbob") != redact("secretann")
    assert "secretbob" not in redact("secretbob")


def test_session_cookie_is_http_only_and_site_wide() -> None:
    assert session_cookie("abc") == "qac_session=abc; Path=/; SameSite=Lax; HttpOnly"


def test_clients_without_origin_are_allowed() -> None:
    assert origin_allowed(None, "localhost:8000", ())
    assert origin_allowed(None, None, ("https://a.example",))


@pytest.mark.parametrize(
    ("origin", "host", "allowed"),
    [
        ("http://127.0.0.1:8000", "127.0.0.1:8000", True),
        ("http://LOCALHOST:8000", "localhost:8000", True),
        ("https://qac.example", "qac.example", True),
        ("https://qac.example:443", "qac.example", True),
        ("http://evil.example", "127.0.0.1:8000", False),
        ("http://127.0.0.1:9000", "127.0.0.1:8000", False),
        ("null", "127.0.0.1:8000", False),
        ("http://127.0.0.1:8000", None, False),
    ],
)
def test_by_default_only_the_same_origin_is_allowed(
    origin: str, host: str | None, allowed: bool
) -> None:
    assert origin_allowed(origin, host, ()) is allowed


def test_an_allow_list_admits_exactly_its_origins() -> None:
    allowed = ("https://app.example", "http://localhost:3000")
    assert origin_allowed("https://app.example", "api.example", allowed)
    assert origin_allowed("https://app.example:443", "api.example", allowed)
    assert origin_allowed("http://localhost:3000", "api.example", allowed)
    assert not origin_allowed("http://app.example", "api.example", allowed)
    assert not origin_allowed("https://app.example.evil.com", "api.example", allowed)
    assert not origin_allowed("https://api.example", "api.example", allowed), (
        "a list replaces the same-origin default"
    )


def test_a_star_admits_any_origin() -> None:
    assert origin_allowed("http://anything.example", "h", ("*",))
