"""Logs carry no identifiers in clear, and a repeated failure cannot flood them."""

from __future__ import annotations

import logging

import pytest

from autocomplete.server.logs import (
    LogLimiter,
    PrivacyFilter,
    configure_privacy,
    drop_query_strings,
    log_config,
)
from autocomplete.server.pseudonyms import Pseudonyms


@pytest.fixture(autouse=True)
def keyed() -> object:
    configure_privacy(Pseudonyms("p" * 40))
    yield
    configure_privacy(None)


def test_query_strings_are_dropped_anywhere_in_a_line() -> None:
    line = '"WebSocket /ws?session=s1.abc&token=eyJhbGc" [accepted]'
    assert drop_query_strings(line) == '"WebSocket /ws?<dropped>" [accepted]'
    assert drop_query_strings("GET /healthz HTTP/1.1") == "GET /healthz HTTP/1.1"


def uvicorn_record(msg: str, args: tuple[object, ...]) -> logging.LogRecord:
    return logging.LogRecord("uvicorn.error", logging.INFO, __file__, 1, msg, args, None)


def test_handshake_lines_show_a_keyed_pseudonym_instead_of_the_address_and_no_query() -> None:
    record = uvicorn_record(
        '%s - "WebSocket %s" [accepted]', ("203.0.113.9:5123", "/ws?token=secret&session=s")
    )
    assert PrivacyFilter().filter(record)
    message = record.getMessage()
    assert "203.0.113.9" not in message and "secret" not in message and "session=s" not in message
    assert message.startswith("client:") and "/ws?<dropped>" in message


def test_the_same_address_gets_the_same_pseudonym_and_another_key_another() -> None:
    first = uvicorn_record("%s - x", ("203.0.113.9:1",))
    again = uvicorn_record("%s - x", ("203.0.113.9:2",))
    PrivacyFilter().filter(first)
    PrivacyFilter().filter(again)
    assert first.getMessage() == again.getMessage(), "the port does not make a new pseudonym"
    configure_privacy(Pseudonyms("q" * 40))
    rekeyed = uvicorn_record("%s - x", ("203.0.113.9:1",))
    PrivacyFilter().filter(rekeyed)
    assert rekeyed.getMessage() != first.getMessage()


def test_access_log_lines_lose_their_query_string() -> None:
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("10.0.0.1:4000", "GET", "/v1/x?prefix=private+thing&token=t", "1.1", 200),
        None,
    )
    PrivacyFilter().filter(record)
    assert "private" not in record.getMessage() and "10.0.0.1" not in record.getMessage()


def test_every_uvicorn_handler_gets_the_filter() -> None:
    config = log_config("info")
    assert all("privacy" in h["filters"] for h in config["handlers"].values())


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_repeated_failure_is_logged_a_few_times_per_interval_then_summarised(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = Clock()
    limiter = LogLimiter(logging.getLogger("qac-test"), burst=2, interval_s=60, clock=clock)
    with caplog.at_level(logging.INFO, logger="qac-test"):
        written = [limiter.log(logging.ERROR, "send", "send failed") for _ in range(100)]
        assert written.count(True) == 2
        clock.now = 61
        assert limiter.log(logging.ERROR, "send", "send failed")
    assert len(caplog.records) == 3
    assert "98 similar lines skipped" in caplog.records[-1].getMessage()


def test_different_keys_have_separate_shares() -> None:
    limiter = LogLimiter(logging.getLogger("qac-test"), burst=1, clock=Clock())
    assert limiter.log(logging.INFO, "a", "x")
    assert limiter.log(logging.INFO, "b", "x")
    assert not limiter.log(logging.INFO, "a", "x")
