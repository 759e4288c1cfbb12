"""User ids never reach the logs in clear."""

from __future__ import annotations

import logging

from autocomplete.server.logs import RedactUserFilter, log_config, redact_user_params


def test_user_parameters_are_redacted_anywhere_in_a_line() -> None:
    line = '127.0.0.1:5 - "WebSocket /ws?session=s1&user=secretbob" [accepted]'
    assert (
        redact_user_params(line)
        == '127.0.0.1:5 - "WebSocket /ws?session=s1&user=<redacted>" [accepted]'
    )
    assert redact_user_params("/ws?user=bob&k=1") == "/ws?user=<redacted>&k=1"


def test_other_parameters_that_end_in_user_are_left_alone() -> None:
    assert redact_user_params("/ws?superuser=x") == "/ws?superuser=x"


def test_the_filter_rewrites_formatted_records() -> None:
    record = logging.LogRecord(
        "uvicorn.error",
        logging.INFO,
        __file__,
        1,
        '%s - "WebSocket %s" [accepted]',
        ("1.2.3.4:5", "/ws?user=bob"),
        None,
    )
    assert RedactUserFilter().filter(record)
    assert record.getMessage() == '1.2.3.4:5 - "WebSocket /ws?user=<redacted>" [accepted]'


def test_every_uvicorn_handler_gets_the_filter() -> None:
    config = log_config("info")
    assert all("redact_user" in h["filters"] for h in config["handlers"].values())
