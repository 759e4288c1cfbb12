"""docs/protocol/asyncapi.yaml says what the server does: its schemas, examples and limits
agree with `protocol.py`, and frames the parser accepts are the frames the schemas accept."""

from __future__ import annotations

import json
import typing
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from jsonschema import Draft7Validator

from autocomplete.ranking import Completion
from autocomplete.server.config import HARD_MAX_K
from autocomplete.server.errors import ErrorCode, ProtocolError
from autocomplete.server.http_complete import MAX_PREV
from autocomplete.server.protocol import (
    MAX_ID_CHARS,
    MAX_INT_ID,
    PROTOCOL_VERSION,
    RAW_SLACK,
    Limits,
    ack_frame,
    completions_frame,
    error_frame,
    hello_frame,
    parse_frame,
)
from tests.protocol_schema import (
    check,
    message_names,
    resolve,
    spec,
    validate_client_frame,
    validate_server_frame,
)

SCHEMAS = spec()["components"]["schemas"]


def test_the_document_is_asyncapi_3_with_the_protocols_version() -> None:
    document = spec()
    assert document["asyncapi"] == "3.0.0"
    assert document["info"]["version"] == str(PROTOCOL_VERSION)
    assert SCHEMAS["Hello"]["properties"]["protocol"]["const"] == PROTOCOL_VERSION


def test_every_message_has_a_valid_json_schema_and_examples_that_pass_it() -> None:
    for name, message in spec()["components"]["messages"].items():
        assert message["name"] == name
        Draft7Validator.check_schema(resolve(message["payload"]["$ref"]))
        for example in message.get("examples", []):
            check(name, example["payload"])


def test_every_reference_in_the_document_resolves() -> None:
    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "$ref" in node:
                resolve(node["$ref"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(spec())


def test_server_and_client_messages_are_the_protocols_frame_types() -> None:
    server, client = message_names()
    assert server == {"hello", "completions", "ack", "error"}
    assert client == {"complete", "submit", "forget"}


def test_the_documented_limits_are_the_codes() -> None:
    defaults = Limits()
    request_id = SCHEMAS["RequestId"]["oneOf"]
    assert request_id[0]["maximum"] == MAX_INT_ID == -request_id[0]["minimum"]
    assert request_id[1]["maxLength"] == MAX_ID_CHARS
    complete = SCHEMAS["Complete"]["properties"]
    assert complete["prefix"]["maxLength"] == RAW_SLACK * defaults.max_prefix_chars
    assert SCHEMAS["Submit"]["properties"]["query"]["maxLength"] == (
        RAW_SLACK * defaults.max_query_chars
    )
    assert SCHEMAS["Limits"]["properties"]["max_k"]["maximum"] == HARD_MAX_K
    assert SCHEMAS["Completions"]["properties"]["items"]["maxItems"] == HARD_MAX_K
    assert set(SCHEMAS["Error"]["properties"]["code"]["enum"]) == set(typing.get_args(ErrorCode))
    assert SCHEMAS["HttpQuery"]["properties"]["prev"]["maxItems"] == MAX_PREV
    assert set(SCHEMAS["Limits"]["required"]) == set(defaults.announced())


def test_hello_ack_and_error_frames_match_the_document() -> None:
    for frame in (
        hello_frame("s1", "v1"),
        hello_frame("s1", "v1", "user"),
        hello_frame("s1", "v1", "anonymous", "expired", Limits(10, 20, 3, 8)),
        ack_frame(8, True),
        ack_frame("eight", False),
        error_frame(None, "rate_limited", "too many frames"),
        error_frame(7, "bad_request", "field 'k' must be an integer"),
    ):
        validate_server_frame(json.loads(frame))


_completion = st.builds(
    Completion,
    text=st.text(min_size=1, max_size=30),
    score=st.floats(allow_nan=False, allow_infinity=False),
    source=st.sampled_from(["index", "history", "generated", "fresh"]),
    typed=st.integers(-1, 40),
    corrected=st.booleans(),
)


@given(
    request_id=st.none() | st.integers(-MAX_INT_ID, MAX_INT_ID) | st.text(max_size=MAX_ID_CHARS),
    prefix=st.text(max_size=20),
    items=st.lists(_completion, max_size=HARD_MAX_K),
    took_ms=st.floats(0, 1e6),
)
def test_any_completions_frame_matches_the_document(
    request_id: Any, prefix: str, items: list[Completion], took_ms: float
) -> None:
    validate_server_frame(json.loads(completions_frame(request_id, prefix, items, took_ms)))


ACCEPTED = [
    {"type": "complete", "id": 7, "prefix": "new yo", "k": 10},
    {"type": "complete", "id": "a", "prefix": ""},
    {"type": "complete", "id": -3, "prefix": "x", "k": 500},
    {"type": "complete", "id": 1, "prefix": "x", "extra": "ignored"},
    {"type": "submit", "id": 8, "query": "new york times"},
    {"type": "forget", "id": 9, "query": "weather"},
    {"type": "forget", "id": 9, "query": "weather", "all": False},
    {"type": "forget", "id": 10, "all": True},
]
REFUSED = [
    {"type": "complete", "prefix": "x"},
    {"type": "complete", "id": True, "prefix": "x"},
    {"type": "complete", "id": [1], "prefix": "x"},
    {"type": "complete", "id": "i" * (MAX_ID_CHARS + 1), "prefix": "x"},
    {"type": "complete", "id": MAX_INT_ID + 1, "prefix": "x"},
    {"type": "complete", "id": 1},
    {"type": "complete", "id": 1, "prefix": 5},
    {"type": "complete", "id": 1, "prefix": "x" * 401},
    {"type": "complete", "id": 1, "prefix": "x", "k": 0},
    {"type": "complete", "id": 1, "prefix": "x", "k": "10"},
    {"type": "complete", "id": 1, "prefix": "x", "k": 2.5},
    {"type": "submit", "id": 1},
    {"type": "submit", "id": 1, "query": ""},
    {"type": "submit", "id": 1, "query": "q" * 1001},
    {"type": "forget", "id": 1},
    {"type": "forget", "id": 1, "all": False},
    {"type": "forget", "id": 1, "all": "yes"},
    {"type": "forget", "id": 1, "all": True, "query": "x"},
]


@pytest.mark.parametrize("frame", ACCEPTED)
def test_frames_the_server_accepts_are_documented_as_valid(frame: dict[str, Any]) -> None:
    parse_frame(json.dumps(frame), Limits())
    validate_client_frame(frame)


@pytest.mark.parametrize("frame", REFUSED)
def test_frames_the_server_refuses_are_documented_as_invalid(frame: dict[str, Any]) -> None:
    with pytest.raises(ProtocolError):
        parse_frame(json.dumps(frame), Limits())
    with pytest.raises(AssertionError):
        validate_client_frame(frame)


def test_an_undocumented_server_frame_or_field_fails_validation() -> None:
    with pytest.raises(AssertionError, match="undocumented frame type"):
        validate_server_frame({"type": "debug", "id": 1})
    with pytest.raises(AssertionError, match="Additional properties"):
        validate_server_frame(json.loads(ack_frame(1, True)) | {"extra": 1})
