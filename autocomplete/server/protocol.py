"""The `/ws` wire protocol: client frames in, typed requests out; server frames encoded.

Pure functions, no sockets: everything a client can send is validated here, and anything
wrong becomes a `ProtocolError` whose message says what was expected and what arrived. The
shapes (`docs/architecture.md`, "From log to wire"):

    -> {"type":"complete","id":7,"prefix":"new yo","k":10}
    -> {"type":"submit","id":8,"query":"new york times"}
    -> {"type":"forget","id":9,"query":"new york times"}   (or "all":true)
    <- {"type":"hello","protocol":1,"session":"...","index":"...","auth":"anonymous",
        "limits":{"max_k":50,"max_prefix_chars":200,"max_query_chars":500}}
    <- {"type":"completions","id":7,"prefix":"new yo","items":[...],"took_ms":0.8}
    <- {"type":"ack","id":8,"stored":true}
    <- {"type":"error","id":7,"code":"bad_request","message":"..."}

Prefixes and queries are normalised here (`indexer.text`), so the server ranks exactly what
the indexer indexed: control characters are stripped, case and spaces folded, and a prefix
keeps one trailing space. Raw lengths, surrogates and combining-mark runs are checked before
normalisation (`_safe_text`), length limits again after it.

The machine-readable form of these shapes is docs/protocol/asyncapi.yaml (`PROTOCOL_VERSION`
is its version); the HTTP endpoint reuses the field validators (`prefix_field`, `k_field`,
`query_field`), so a prefix is refused or accepted alike on both.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from autocomplete.ranking import Completion
from indexer.text import normalize_prefix, normalize_query

from .errors import ErrorCode, ProtocolError, RequestId

#: The wire protocol's version, sent in `hello`. Raised only for a change an existing client
#: cannot ignore (a new optional field or frame type is not one: clients skip what they do not
#: know).
PROTOCOL_VERSION = 1
#: Longest string id a client may use; ids are echoed back, so they are kept short.
MAX_ID_CHARS = 64
#: Integer ids must survive a JavaScript number (Number.MAX_SAFE_INTEGER).
MAX_INT_ID = 2**53 - 1
#: A raw text field may be this many times its normalised limit (see `_safe_text`).
RAW_SLACK = 2
#: Longest run of combining marks in a text field: Unicode's stream-safe text format allows
#: 30 non-starters in a row, which no real word needs more of.
MAX_COMBINING_RUN = 30


@dataclass(frozen=True, slots=True)
class Limits:
    """What a client may ask for (taken from `ServerConfig`); announced in `hello`.

    A `k` above `max_k` is served as `max_k` (a widget built for one server keeps working on
    a stricter one); prefixes and queries over their limits are refused, since cutting them
    would answer a different question than the one asked.
    """

    max_prefix_chars: int = 200
    max_query_chars: int = 500
    default_k: int = 10
    max_k: int = 50

    def announced(self) -> dict[str, int]:
        """The limits as `hello` states them (`default_k` is the server's business)."""
        return {
            "max_k": self.max_k,
            "max_prefix_chars": self.max_prefix_chars,
            "max_query_chars": self.max_query_chars,
        }


@dataclass(frozen=True, slots=True)
class CompleteRequest:
    """Rank completions of `prefix` (normalised, may be empty) and return at most `k`."""

    id: RequestId
    prefix: str
    k: int


@dataclass(frozen=True, slots=True)
class SubmitRequest:
    """The user ran `query` (normalised, non-empty): it becomes the session's newest query."""

    id: RequestId
    query: str


@dataclass(frozen=True, slots=True)
class ForgetRequest:
    """Remove `query` (normalised) from the session's recent queries and the user's history;
    `query` None forgets everything (`"all": true`)."""

    id: RequestId
    query: str | None


ClientRequest = CompleteRequest | SubmitRequest | ForgetRequest


def parse_frame(data: str | bytes, limits: Limits) -> ClientRequest:
    """Validate one client frame; raise `ProtocolError` (code bad_request) if it is unusable.

    `bytes` means a binary frame, which the protocol does not use: it is refused (whatever it
    holds) rather than guessed at, so a client bug shows up at once.
    """
    if isinstance(data, bytes):
        raise ProtocolError(
            f"binary frames are not supported ({len(data)} bytes); send JSON in a text frame"
        )
    try:
        message = json.loads(data)
    except ValueError as exc:
        raise ProtocolError(f"frame is not valid JSON: {exc}") from None
    except RecursionError:
        raise ProtocolError("frame is not valid JSON: nested too deeply") from None
    if not isinstance(message, dict):
        raise ProtocolError(f"frame must be a JSON object, got {_json_type(message)}")
    request_id = _request_id(message)
    kind = message.get("type")
    try:
        if kind == "complete":
            return CompleteRequest(
                request_id, prefix_field(message, limits), k_field(message, limits)
            )
        if kind == "submit":
            return SubmitRequest(request_id, query_field(message, limits))
        if kind == "forget":
            return _forget(request_id, message, limits)
    except ProtocolError as exc:
        exc.request_id = request_id
        raise
    raise ProtocolError(
        f'field \'type\' must be "complete", "submit" or "forget", got {_show(kind)}',
        request_id=request_id,
    )


def _request_id(message: dict[str, Any]) -> RequestId:
    if "id" not in message:
        raise ProtocolError("field 'id' is missing (an integer or a string)")
    value = message["id"]
    # bool is an int in Python but not an id anyone means.
    if isinstance(value, int) and not isinstance(value, bool):
        if abs(value) > MAX_INT_ID:
            raise ProtocolError(f"field 'id' must be within +-{MAX_INT_ID}, got {value}")
        return value
    if isinstance(value, str):
        if len(value) > MAX_ID_CHARS:
            raise ProtocolError(
                f"field 'id' must be at most {MAX_ID_CHARS} characters, got {len(value)}"
            )
        if not value.isascii():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise ProtocolError("field 'id' contains a lone surrogate") from None
        return value
    raise ProtocolError(f"field 'id' must be an integer or a string, got {_json_type(value)}")


def _string(message: Mapping[str, Any], name: str) -> str:
    if name not in message:
        raise ProtocolError(f"field '{name}' is missing (a string)")
    value = message[name]
    if not isinstance(value, str):
        raise ProtocolError(f"field '{name}' must be a string, got {_json_type(value)}")
    return value


def _safe_text(message: Mapping[str, Any], name: str, limit: int) -> str:
    """A text field that is safe to normalise: checked *before* normalisation, which costs
    superlinear time on long runs of combining marks and must never see a lone surrogate.

    The raw text may be `RAW_SLACK` times the limit (room for spaces and control characters
    that normalisation drops); the normalised text must then be within the limit itself.
    """
    value = _string(message, name)
    if len(value) > RAW_SLACK * limit:
        raise ProtocolError(
            f"field '{name}' is {len(value)} characters; the limit is {limit} "
            f"(after normalisation), {RAW_SLACK * limit} as sent"
        )
    if not value.isascii():
        _check_unicode(name, value)
    return value


def _check_unicode(name: str, value: str) -> None:
    """Refuse lone surrogates (JSON's `\\udc00` escapes decode to them, but they are not
    text: they cannot be encoded, stored or sent) and overlong combining-mark runs."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ProtocolError(
            f"field '{name}' is not valid Unicode text (it contains a lone surrogate)"
        ) from None
    run = 0
    for ch in value:
        if unicodedata.combining(ch):
            run += 1
            if run > MAX_COMBINING_RUN:
                raise ProtocolError(
                    f"field '{name}' has more than {MAX_COMBINING_RUN} combining marks in a row"
                )
        else:
            run = 0


def prefix_field(message: Mapping[str, Any], limits: Limits) -> str:
    """`message["prefix"]`, checked and normalised (a trailing space kept); `ProtocolError`."""
    prefix = normalize_prefix(_safe_text(message, "prefix", limits.max_prefix_chars))
    if len(prefix) > limits.max_prefix_chars:
        raise ProtocolError(
            f"field 'prefix' is {len(prefix)} characters after normalisation; "
            f"the limit is {limits.max_prefix_chars}"
        )
    return prefix


def query_field(message: Mapping[str, Any], limits: Limits, name: str = "query") -> str:
    """`message[name]`, checked and normalised, non-empty; `ProtocolError` otherwise."""
    query = normalize_query(_safe_text(message, name, limits.max_query_chars))
    if not query:
        raise ProtocolError(f"field '{name}' is empty after normalisation")
    if len(query) > limits.max_query_chars:
        raise ProtocolError(
            f"field '{name}' is {len(query)} characters after normalisation; "
            f"the limit is {limits.max_query_chars}"
        )
    return query


def _forget(request_id: RequestId, message: dict[str, Any], limits: Limits) -> ForgetRequest:
    """Exactly one of `"query": "..."` and `"all": true`."""
    everything = message.get("all", False)
    if everything is not True and everything is not False:
        raise ProtocolError(f"field 'all' must be true or false, got {_show(everything)}")
    if everything:
        if "query" in message:
            raise ProtocolError("a forget takes either 'query' or '\"all\": true', not both")
        return ForgetRequest(request_id, None)
    if "query" not in message:
        raise ProtocolError("a forget needs field 'query' (a string) or '\"all\": true'")
    return ForgetRequest(request_id, query_field(message, limits))


def k_field(message: Mapping[str, Any], limits: Limits) -> int:
    """`message["k"]` (default `limits.default_k`), clamped to `limits.max_k`: a client asking
    for more than this server serves gets what it serves. Not an integer, or below 1: a
    `ProtocolError` (that is a client bug, not a preference)."""
    if "k" not in message:
        return limits.default_k
    value = message["k"]
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ProtocolError(
            f"field 'k' must be an integer >= 1 (this server returns at most {limits.max_k}), "
            f"got {_show(value)}"
        )
    return min(value, limits.max_k)


def _json_type(value: Any) -> str:
    names = {
        dict: "an object",
        list: "an array",
        str: "a string",
        bool: "a boolean",
        int: "a number",
        float: "a number",
        type(None): "null",
    }
    return names.get(type(value), type(value).__name__)


def _show(value: Any) -> str:
    """A short rendering of a client value for an error message (never the whole thing)."""
    text = json.dumps(value) if isinstance(value, str | int | float | bool | None) else None
    if text is None:
        return _json_type(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _dump(frame: dict[str, Any]) -> str:
    """The frame as compact JSON. orjson writes a completions frame ~15x faster than the
    standard encoder (which took ~6-8% of a loaded worker's time); what it refuses (an
    integer id past 64 bits, a lone surrogate) the standard encoder writes, the same JSON."""
    try:
        return orjson.dumps(frame).decode()
    except TypeError:
        return json.dumps(frame, ensure_ascii=False, separators=(",", ":"))


def hello_frame(
    session: str,
    index_version: str,
    auth: str = "anonymous",
    rejected: str | None = None,
    limits: Limits | None = None,
) -> str:
    """`protocol`: `PROTOCOL_VERSION`; `limits`: what this server serves (`Limits.announced`),
    so a client can size its requests instead of learning them from errors.

    `auth`: "user" when a credential identified the user, else "anonymous";
    `auth_error` (only when a presented credential was refused): expired, invalid or
    unusable_subject, so a client can fetch a new token and reconnect."""
    frame: dict[str, Any] = {
        "type": "hello",
        "protocol": PROTOCOL_VERSION,
        "session": session,
        "index": index_version,
        "auth": auth,
        "limits": (limits or Limits()).announced(),
    }
    if rejected is not None:
        frame["auth_error"] = rejected
    return _dump(frame)


def completions_frame(
    request_id: RequestId | None, prefix: str, items: Iterable[Completion], took_ms: float
) -> str:
    """`prefix` is the normalised prefix the items extend (what a widget highlights).
    `request_id` None: an answer to no frame (the HTTP endpoint's).

    An item that extends a spelling correction of the prefix instead also carries
    `"corrected": true`, and `"typed": n` when its first n characters stand for what was
    typed; plain items omit both.

    Every item carries `"match": [start, end]`: the characters of `text` that stand for what
    was typed (`[0, len(prefix)]`, or `[0, typed]` for a correction), so a widget highlights
    the rest as the completed part without recomputing anything. An empty prefix (recent
    searches) matches `[0, 0]`.
    """
    return _dump(
        {
            "type": "completions",
            "id": request_id,
            "prefix": prefix,
            "items": [_item(c, len(prefix)) for c in items],
            "took_ms": round(took_ms, 3),
        }
    )


def _item(c: Completion, prefix_chars: int) -> dict[str, Any]:
    item: dict[str, Any] = {"text": c.text, "score": float(c.score), "source": c.source}
    if c.corrected:
        item["corrected"] = True
    if c.typed >= 0:
        item["typed"] = c.typed
    typed = c.typed if c.typed >= 0 else prefix_chars
    item["match"] = [0, min(typed, len(c.text))]
    return item


def ack_frame(request_id: RequestId, stored: bool) -> str:
    return _dump({"type": "ack", "id": request_id, "stored": stored})


def error_frame(request_id: RequestId | None, code: ErrorCode, message: str) -> str:
    return _dump({"type": "error", "id": request_id, "code": code, "message": message})
