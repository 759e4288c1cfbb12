"""The published protocol, docs/protocol/asyncapi.yaml, as validators for the tests.

The WebSocket test client (`tests.server.client`) validates every frame it receives with
`validate_server_frame`, so each server test also checks that what the server says matches
what the document promises; `validate_http_body` does the same for `/v1/complete`.

Which messages are the server's and which the client's is read from the document's
operations (AsyncAPI describes the server: `send` is the server speaking, `receive` the
client, and a `reply` the server answering), not repeated here.
"""

from __future__ import annotations

import functools
from typing import Any

import yaml
from jsonschema import Draft7Validator
from jsonschema.exceptions import ValidationError

from tests.conftest import ROOT

SPEC_PATH = ROOT / "docs" / "protocol" / "asyncapi.yaml"
_MESSAGE_REF = "#/components/messages/"
_SCHEMA_REF = "#/components/schemas/"


@functools.cache
def spec() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(SPEC_PATH.read_text())
    return document


def resolve(ref: str) -> Any:
    """The part of the document a local `$ref` points at."""
    if not ref.startswith("#/"):
        raise ValueError(f"only local references are used, got {ref!r}")
    node: Any = spec()
    for part in ref[2:].split("/"):
        node = node[part]
    return node


def _message_name(ref: str) -> str:
    """`#/channels/x/messages/y` or `#/components/messages/y` -> the message's `name`."""
    message = resolve(ref)
    if "$ref" in message:
        message = resolve(message["$ref"])
    return str(message["name"])


@functools.cache
def message_names() -> tuple[frozenset[str], frozenset[str]]:
    """(names the server sends, names the client sends) over the WebSocket."""
    server: set[str] = set()
    client: set[str] = set()
    for operation in spec()["operations"].values():
        if resolve(operation["channel"]["$ref"])["address"] != "/ws":
            continue
        names = {_message_name(m["$ref"]) for m in operation["messages"]}
        (server if operation["action"] == "send" else client).update(names)
        for reply in operation.get("reply", {}).get("messages", []):
            server.add(_message_name(reply["$ref"]))
    return frozenset(server), frozenset(client)


@functools.cache
def validator(message: str) -> Draft7Validator:
    """A validator for the payload of the message named `message`."""
    payload = spec()["components"]["messages"][message]["payload"]
    # The payload's references are local to the document: validate against a schema whose
    # root carries the document's components, so "#/components/..." resolves.
    return Draft7Validator({**payload, "components": spec()["components"]})


def check(message: str, value: Any) -> None:
    """Raise AssertionError naming where `value` breaks the `message` payload schema."""
    try:
        validator(message).validate(value)
    except ValidationError as exc:
        where = "/".join(str(p) for p in exc.absolute_path) or "(the frame)"
        raise AssertionError(
            f"{message} frame does not match docs/protocol/asyncapi.yaml at {where}: "
            f"{exc.message}\n{value!r}"
        ) from None


def validate_server_frame(frame: Any) -> None:
    """`frame` (decoded JSON) is a server frame the protocol document describes."""
    server, _ = message_names()
    kind = frame.get("type") if isinstance(frame, dict) else None
    if kind not in server:
        raise AssertionError(f"the server sent an undocumented frame type {kind!r}: {frame!r}")
    check(kind, frame)


def validate_client_frame(frame: Any) -> None:
    _, client = message_names()
    kind = frame.get("type") if isinstance(frame, dict) else None
    if kind not in client:
        raise AssertionError(f"not a documented client frame type {kind!r}: {frame!r}")
    check(kind, frame)


def validate_http_body(body: Any) -> None:
    """A `/v1/complete` answer: a completions message with a null id, or an error."""
    kind = body.get("type") if isinstance(body, dict) else None
    if kind not in ("completions", "error"):
        raise AssertionError(f"/v1/complete answered an undocumented body: {body!r}")
    check(kind, body)
    if body["id"] is not None:
        raise AssertionError(f"an HTTP answer has no request id, got {body['id']!r}")
