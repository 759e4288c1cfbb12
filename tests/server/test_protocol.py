"""Parsing client frames and encoding server frames (pure; no sockets)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from autocomplete.ranking import Completion
from autocomplete.server.errors import ProtocolError
from autocomplete.server.protocol import (
    MAX_COMBINING_RUN,
    PROTOCOL_VERSION,
    CompleteRequest,
    ForgetRequest,
    Limits,
    SubmitRequest,
    ack_frame,
    completions_frame,
    error_frame,
    hello_frame,
    parse_frame,
)

LIMITS = Limits(max_prefix_chars=200, max_query_chars=500, default_k=10, max_k=50)


def parse(frame: object) -> object:
    return parse_frame(json.dumps(frame), LIMITS)


def refused(frame: object, limits: Limits = LIMITS) -> ProtocolError:
    data = frame if isinstance(frame, str | bytes) else json.dumps(frame)
    with pytest.raises(ProtocolError) as info:
        parse_frame(data, limits)
    assert info.value.code == "bad_request"
    assert info.value.close_code is None, "bad input never costs the connection"
    return info.value


def test_complete_is_parsed_with_its_prefix_normalised() -> None:
    assert parse({"type": "complete", "id": 7, "prefix": "  New  YO", "k": 3}) == CompleteRequest(
        7, "new yo", 3
    )


def test_prefix_keeps_one_trailing_space() -> None:
    request = parse({"type": "complete", "id": 1, "prefix": "new   "})
    assert isinstance(request, CompleteRequest) and request.prefix == "new "


def test_k_defaults_when_absent() -> None:
    request = parse({"type": "complete", "id": "a", "prefix": "x"})
    assert isinstance(request, CompleteRequest) and request.k == 10


def test_empty_prefix_is_a_valid_request() -> None:
    assert parse({"type": "complete", "id": 1, "prefix": ""}) == CompleteRequest(1, "", 10)


def test_control_characters_are_stripped_from_prefixes_and_queries() -> None:
    request = parse({"type": "complete", "id": 1, "prefix": "go\x00o\x1b\u200bgle"})
    assert isinstance(request, CompleteRequest) and request.prefix == "google"
    submit = parse({"type": "submit", "id": 2, "query": "\x07Weather\u202e  NOW\n"})
    assert submit == SubmitRequest(2, "weather now")


def test_prefixes_and_queries_are_folded_as_the_index_was_built() -> None:
    request = parse({"type": "complete", "id": 1, "prefix": "Ｃａｆé "})
    assert isinstance(request, CompleteRequest) and request.prefix == "cafe "
    assert parse({"type": "submit", "id": 2, "query": "Mátyás"}) == SubmitRequest(2, "matyas")


def test_combining_marks_are_judged_as_sent_before_folding_could_drop_them() -> None:
    error = refused(
        {"type": "complete", "id": 1, "prefix": "e" + "\u0301" * (MAX_COMBINING_RUN + 1)}
    )
    assert "combining marks" in str(error)
    assert "surrogate" in str(refused({"type": "complete", "id": 1, "prefix": "e\udc00"}))


def test_submit_is_parsed_with_its_query_normalised() -> None:
    assert parse({"type": "submit", "id": "q-8", "query": " New York  Times "}) == SubmitRequest(
        "q-8", "new york times"
    )


@pytest.mark.parametrize("text", ["{", "nope", "", "{'type': 'complete'}", "[1,"])
def test_malformed_json_is_a_bad_request(text: str) -> None:
    assert "not valid JSON" in refused(text).message


def test_deeply_nested_json_is_a_bad_request_not_a_crash() -> None:
    assert "not valid JSON" in refused("[" * 100_000 + "]" * 100_000).message


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("[]", "an array"),
        ('"hi"', "a string"),
        ("3", "a number"),
        ("null", "null"),
        ("true", "a boolean"),
    ],
)
def test_json_that_is_not_an_object_is_a_bad_request(text: str, kind: str) -> None:
    assert refused(text).message == f"frame must be a JSON object, got {kind}"


def test_binary_frames_are_refused_with_a_hint() -> None:
    error = refused(b'{"type":"complete","id":1,"prefix":"a"}')
    assert "binary frames are not supported" in error.message
    assert refused(b"\xff\xfe\xfd").request_id is None


def test_unknown_type_echoes_the_id() -> None:
    error = refused({"type": "delete", "id": 5})
    assert error.request_id == 5
    assert error.message == 'field \'type\' must be "complete", "submit" or "forget", got "delete"'


def test_missing_type_is_a_bad_request() -> None:
    assert "field 'type'" in refused({"id": 5}).message


@pytest.mark.parametrize("bad_id", [None, 1.5, True, [1], {"a": 1}, 2**60, "x" * 65])
def test_id_must_be_a_small_int_or_a_short_string(bad_id: object) -> None:
    error = refused({"type": "complete", "id": bad_id, "prefix": "a"})
    assert "field 'id'" in error.message and error.request_id is None


def test_missing_id_is_a_bad_request() -> None:
    assert "field 'id' is missing" in refused({"type": "complete", "prefix": "a"}).message


@pytest.mark.parametrize("prefix", [None, 5, ["a"], {"p": "a"}])
def test_prefix_must_be_a_string(prefix: object) -> None:
    error = refused({"type": "complete", "id": 3, "prefix": prefix})
    assert "field 'prefix' must be a string" in error.message
    assert error.request_id == 3


def test_missing_prefix_is_a_bad_request() -> None:
    assert "field 'prefix' is missing" in refused({"type": "complete", "id": 3}).message


@pytest.mark.parametrize("k", [0, -1, 2.5, 10.0, "10", True, None])
def test_k_must_be_an_integer_of_at_least_1(k: object) -> None:
    error = refused({"type": "complete", "id": 4, "prefix": "a", "k": k})
    assert "field 'k' must be an integer >= 1 (this server returns at most 50)" in error.message


@pytest.mark.parametrize(("k", "served"), [(1, 1), (8, 8), (9, 8), (50, 8), (10**9, 8)])
def test_k_above_the_limit_is_served_as_the_limit(k: int, served: int) -> None:
    limits = Limits(default_k=5, max_k=8)
    request = parse_frame(json.dumps({"type": "complete", "id": 4, "prefix": "a", "k": k}), limits)
    assert isinstance(request, CompleteRequest) and request.k == served


def test_prefix_over_the_limit_after_normalisation_is_a_bad_request() -> None:
    error = refused({"type": "complete", "id": 9, "prefix": "a" * 201})
    assert error.message == (
        "field 'prefix' is 201 characters after normalisation; the limit is 200"
    )
    # Spaces and control characters that normalisation folds away do not count, within the
    # raw allowance of twice the limit (the trailing run of spaces becomes the one kept space).
    request = parse({"type": "complete", "id": 9, "prefix": "\x00" * 100 + "a" * 199 + " " * 100})
    assert isinstance(request, CompleteRequest) and request.prefix == "a" * 199 + " "


def test_ten_thousand_character_prefix_gets_a_clear_answer() -> None:
    error = refused({"type": "complete", "id": 10, "prefix": "x" * 10_000})
    assert "10000 characters" in error.message and error.request_id == 10


@pytest.mark.parametrize("query", ["", "   ", "\x00\x01", "-"])
def test_submit_of_an_empty_query_is_a_bad_request(query: str) -> None:
    error = refused({"type": "submit", "id": 1, "query": query})
    assert "empty after normalisation" in error.message


def test_submit_over_the_limit_is_a_bad_request() -> None:
    assert "the limit is 500" in refused({"type": "submit", "id": 1, "query": "q" * 501}).message


def test_long_client_values_are_shortened_in_error_messages() -> None:
    error = refused({"type": "x" * 1000, "id": 1})
    assert len(error.message) < 120


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
        lambda inner: (
            st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
        ),
        max_leaves=12,
    )
)
def test_any_json_value_parses_or_is_a_protocol_error(value: object) -> None:
    for frame in (
        value,
        {"type": "complete", "id": 1, "prefix": value},
        {"type": "submit", "id": value, "query": value},
    ):
        try:
            parse_frame(json.dumps(frame), LIMITS)
        except ProtocolError:
            pass


@given(st.binary(max_size=64) | st.text(max_size=64))
def test_any_frame_parses_or_is_a_protocol_error(data: bytes | str) -> None:
    try:
        parse_frame(data, LIMITS)
    except ProtocolError:
        pass


def test_hello_announces_the_protocol_version_and_this_servers_limits() -> None:
    limits = Limits(max_prefix_chars=80, max_query_chars=120, default_k=5, max_k=8)
    hello = json.loads(hello_frame("s1", "v1", limits=limits))
    assert hello["protocol"] == PROTOCOL_VERSION == 1
    assert hello["limits"] == {"max_k": 8, "max_prefix_chars": 80, "max_query_chars": 120}


def test_server_frames_have_the_documented_shapes() -> None:
    assert json.loads(hello_frame("s1", "v1")) == {
        "type": "hello",
        "protocol": PROTOCOL_VERSION,
        "session": "s1",
        "index": "v1",
        "auth": "anonymous",
        "limits": {"max_k": 50, "max_prefix_chars": 200, "max_query_chars": 500},
    }
    assert json.loads(hello_frame("s1", "v1", "anonymous", "expired"))["auth_error"] == "expired"
    frame = json.loads(completions_frame(7, "new yo", [Completion("new york", 0.91, "index")], 0.8))
    assert frame == {
        "type": "completions",
        "id": 7,
        "prefix": "new yo",
        "items": [{"text": "new york", "score": 0.91, "source": "index", "match": [0, 6]}],
        "took_ms": 0.8,
    }
    assert json.loads(ack_frame("a", False)) == {"type": "ack", "id": "a", "stored": False}
    assert json.loads(error_frame(None, "rate_limited", "slow down")) == {
        "type": "error",
        "id": None,
        "code": "rate_limited",
        "message": "slow down",
    }


def test_spelling_corrections_are_marked_and_plain_items_are_not() -> None:
    frame = json.loads(
        completions_frame(
            1,
            "goggle",
            [
                Completion("google maps", 0.6, "index", typed=6, corrected=True),
                Completion("goggles", 0.4, "index"),
            ],
            0.1,
        )
    )
    assert frame["items"] == [
        {
            "text": "google maps",
            "score": 0.6,
            "source": "index",
            "corrected": True,
            "typed": 6,
            "match": [0, 6],
        },
        {"text": "goggles", "score": 0.4, "source": "index", "match": [0, 6]},
    ]


def test_non_ascii_text_is_sent_as_is() -> None:
    frame = completions_frame(1, "東京", [Completion("東京 天気", 0.5, "index")], 0.1)
    assert "東京 天気" in frame


def test_forget_names_one_normalised_query_or_all() -> None:
    assert parse({"type": "forget", "id": 3, "query": "  New  York "}) == ForgetRequest(
        3, "new york"
    )
    assert parse({"type": "forget", "id": "f", "all": True}) == ForgetRequest("f", None)
    assert parse({"type": "forget", "id": 4, "query": "x", "all": False}) == ForgetRequest(4, "x")


@pytest.mark.parametrize(
    ("frame", "says"),
    [
        ({"type": "forget", "id": 1}, "needs field 'query'"),
        ({"type": "forget", "id": 1, "all": False}, "needs field 'query'"),
        ({"type": "forget", "id": 1, "all": True, "query": "x"}, "not both"),
        ({"type": "forget", "id": 1, "all": "yes"}, "'all' must be true or false"),
        ({"type": "forget", "id": 1, "query": "   "}, "empty after normalisation"),
        ({"type": "forget", "id": 1, "query": 5}, "must be a string"),
    ],
)
def test_a_malformed_forget_is_refused_with_its_id(frame: dict, says: str) -> None:
    error = refused(frame)
    assert error.request_id == 1
    assert says in error.message


def test_match_spans_the_typed_prefix_or_the_corrected_part_and_never_past_the_text() -> None:
    items = [
        Completion("new york", 0.9, "index"),
        Completion("newark", 0.5, "index", typed=3, corrected=True),
        Completion("new", 0.1, "history"),
    ]
    frame = json.loads(completions_frame(1, "new ", items, 0.1))
    assert [i["match"] for i in frame["items"]] == [[0, 4], [0, 3], [0, 3]]
    recent = json.loads(completions_frame(2, "", [Completion("maps", 1.0, "history")], 0.1))
    assert recent["items"][0]["match"] == [0, 0]


@pytest.mark.parametrize(
    "request_id", [7, "a-1", 2**70, None], ids=["int", "str", "past-64-bits", "none"]
)
def test_reply_frames_are_the_same_json_with_or_without_the_fast_encoder(
    request_id, monkeypatch
) -> None:
    from autocomplete.server import protocol

    items = [
        Completion("café olé", 0.5, "index"),
        Completion("new york times", 1e-05, "generated", 3, True),
        Completion("x", 0.0, "history"),
    ]
    fast = protocol.completions_frame(request_id, "n", items, 1.23456)

    def refuse(_: object) -> bytes:
        raise TypeError("the standard encoder's turn")

    monkeypatch.setattr(protocol.orjson, "dumps", refuse)
    plain = protocol.completions_frame(request_id, "n", items, 1.23456)
    assert json.loads(fast) == json.loads(plain)
    assert "café olé" in fast and " " not in fast.replace("café olé", "").replace(
        "new york times", ""
    )
