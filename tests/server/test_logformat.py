"""`--log-format json`: every line one JSON object, with fields, and no identifiers in clear."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import pytest
from websockets.exceptions import InvalidStatus

from autocomplete.server.logformat import JsonFormatter
from autocomplete.server.logs import PrivacyFilter, configure_privacy, log_config
from autocomplete.server.pseudonyms import Pseudonyms
from tests.credentials import user_token
from tests.live_server import LiveServer

from .client import complete, ws_session

ACCESS = '%s - "%s %s HTTP/%s" %d'


def record(
    name: str, msg: str, args: tuple[object, ...], exc_info: object = None
) -> logging.LogRecord:
    return logging.LogRecord(name, logging.INFO, __file__, 1, msg, args, exc_info)  # type: ignore[arg-type]


def test_a_line_is_one_json_object_with_time_level_logger_and_message() -> None:
    line = JsonFormatter().format(record("autocomplete.server", "serving %s", ("mpc-1",)))
    entry = json.loads(line)
    assert "\n" not in line
    assert entry["message"] == "serving mpc-1" and entry["logger"] == "autocomplete.server"
    assert entry["level"] == "info" and isinstance(entry["pid"], int)
    assert entry["time"].endswith("Z") and entry["time"][10] == "T"


def test_access_lines_carry_method_path_and_status_after_the_privacy_filter() -> None:
    configure_privacy(Pseudonyms("p" * 40))
    try:
        access = record(
            "uvicorn.access", ACCESS, ("10.1.2.3:5000", "GET", "/v1/complete?prefix=x", "1.1", 200)
        )
        assert PrivacyFilter().filter(access)
        entry = json.loads(JsonFormatter().format(access))
    finally:
        configure_privacy(None)
    assert (entry["method"], entry["path"], entry["status"]) == (
        "GET",
        "/v1/complete?<dropped>",
        200,
    )
    assert entry["client"].startswith("client:") and "10.1.2.3" not in json.dumps(entry)
    assert entry["http_version"] == "1.1"


def test_refused_websocket_handshakes_carry_their_status() -> None:
    refused = record("uvicorn.error", '%s - "WebSocket %s" 403', ("client:x", "/ws"))
    entry = json.loads(JsonFormatter().format(refused))
    assert (entry["method"], entry["path"], entry["status"]) == ("WebSocket", "/ws", 403)


def test_an_exception_is_one_field_not_more_lines() -> None:
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        failed = record("autocomplete.server", "handler failed", (), exc_info=sys.exc_info())
    line = JsonFormatter().format(failed)
    assert "\n" not in line and "RuntimeError: boom" in json.loads(line)["exception"]


def test_json_config_formats_every_handler_and_the_root_logger_as_json() -> None:
    config = log_config("info", "json")
    assert {f["()"] for f in config["formatters"].values()} == {
        "autocomplete.server.logformat.JsonFormatter"
    }
    assert config["root"]["handlers"] == ["default"]
    assert all("privacy" in h["filters"] for h in config["handlers"].values())
    with pytest.raises(ValueError, match="log format"):
        log_config("info", "xml")


@pytest.mark.anyio
async def test_a_server_writes_only_json_lines_without_addresses_or_query_strings(
    built_sample_index: Path,
) -> None:
    token = user_token("secretbob77")
    with LiveServer(built_sample_index, workers=2, env={"QAC_LOG_FORMAT": "json"}) as server:
        assert server.get("/healthz?token=leaky")[0] == 200
        async with ws_session(f"{server.ws_url}?token={token}") as (ws, _):
            await complete(ws, "goo")
        with pytest.raises(InvalidStatus):
            async with ws_session(server.ws_url, origin="https://evil.example"):
                pass
        server.stop()
        output = server.output()
    lines = [line for line in output.splitlines() if line and not line.startswith("$ ")]
    entries = [json.loads(line) for line in lines]  # fails on any line that is not JSON
    assert all({"time", "level", "logger", "message", "pid"} <= e.keys() for e in entries)
    assert not [e for e in entries if e["level"] in ("error", "critical")], "a refusal is no error"
    access = [e for e in entries if e["logger"] == "uvicorn.access"]
    asked = [e for e in access if e["path"] == "/healthz?<dropped>"]
    assert asked and asked[0]["method"] == "GET" and asked[0]["status"] == 200
    sockets = [e for e in entries if e.get("method") == "WebSocket"]
    assert {e.get("status") for e in sockets} >= {None, 403}
    assert all(e["client"].startswith("client:") for e in access + sockets)
    assert len({e["pid"] for e in entries}) >= 2, "the workers write JSON too"
    assert "127.0.0.1:" not in output.replace(server.url, "")
    for secret in ("leaky", "secretbob77", token.split(".")[2]):
        assert secret not in output
