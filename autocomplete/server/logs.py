"""Logging for the server and uvicorn: no identifiers in clear, and no floods of lines.

uvicorn logs every request and WebSocket handshake with its client address and query string,
and the query string carries credentials (`token=`), session ids and whatever else a client
put there. `PrivacyFilter` rewrites uvicorn's records before any handler sees them: the query
string is dropped and the client address becomes a keyed pseudonym (`pseudonyms.Pseudonyms`,
keyed by the server's session secret, set with `configure_privacy`). It is wired in through
uvicorn's `log_config`, so worker processes get it too, in either log format (`logformat`).

`LogLimiter` keeps a client that triggers the same failure on every frame from writing a
line per frame: at most a few lines per key per interval, with a count of what was skipped.
"""

from __future__ import annotations

import copy
import logging
import re
import time
from collections.abc import Callable
from typing import Any

from uvicorn.config import LOGGING_CONFIG

from .logformat import LOG_FORMATS, JsonFormatter
from .pseudonyms import Pseudonyms

_QUERY = re.compile(r"(/[^\s\"?]*)\?[^\s\"]*")
_CLIENT = re.compile(r"^\[?[0-9A-Fa-f:.]+\]?:\d+$")
_state: dict[str, Pseudonyms | None] = {"pseudonyms": None}


def configure_privacy(pseudonyms: Pseudonyms | None) -> None:
    """Key client pseudonyms in uvicorn's lines (None: addresses become `client:?`)."""
    _state["pseudonyms"] = pseudonyms


def drop_query_strings(text: str) -> str:
    """`/ws?token=...&session=...` -> `/ws?<dropped>` anywhere in a line."""
    return _QUERY.sub(r"\1?<dropped>", text)


def pseudonymise_client(value: str) -> str:
    """`ip:port` -> `client:<pseudonym>` (the port is dropped: it only adds linkability)."""
    host = value.rsplit(":", 1)[0].strip("[]")
    pseudonyms = _state["pseudonyms"]
    return "client:?" if pseudonyms is None else pseudonyms.of("client", host)


#: uvicorn's line for a refused WebSocket handshake (status 403/429/503...).
_REFUSED = '%s - "WebSocket %s" %d'


class PrivacyFilter(logging.Filter):
    """Pseudonymises addresses, drops query strings, and thins out refused-handshake lines:
    a client hammering the handshake must not turn into a line per attempt."""

    def __init__(self, name: str = "") -> None:
        super().__init__(name)
        self._refusals = LogLimiter(logging.getLogger("uvicorn.error"), burst=20, interval_s=10)

    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg == _REFUSED and not self._refusals.allow("refused"):
            return False
        if isinstance(record.args, tuple) and record.args:
            args = list(record.args)
            changed = False
            for i, arg in enumerate(args):
                if isinstance(arg, str):
                    new = arg
                    if _CLIENT.match(arg):
                        new = pseudonymise_client(arg)
                    elif "?" in arg:
                        new = drop_query_strings(arg)
                    if new is not arg:
                        args[i], changed = new, True
            if changed:
                record.args = tuple(args)
        elif isinstance(record.msg, str) and "?" in record.msg and not record.args:
            record.msg = drop_query_strings(record.msg)
        return True


def log_config(level: str, fmt: str = "text") -> dict[str, Any]:
    """uvicorn's default logging config plus the privacy filter and our own logger.

    fmt: "text" (uvicorn's lines) or "json" (`logformat.JsonFormatter`, one object a line;
    the root logger then writes JSON too, so a library's warning does not break the stream).
    """
    if fmt not in LOG_FORMATS:
        raise ValueError(f"log format must be one of {LOG_FORMATS}, got {fmt!r}")
    config = copy.deepcopy(LOGGING_CONFIG)
    config["filters"] = {"privacy": {"()": f"{__name__}.PrivacyFilter"}}
    for handler in config["handlers"].values():
        handler.setdefault("filters", []).append("privacy")
    config["loggers"]["autocomplete"] = {
        "handlers": ["default"],
        "level": level.upper(),
        "propagate": False,
    }
    if fmt == "json":
        json_formatter = {"()": f"{JsonFormatter.__module__}.JsonFormatter"}
        config["formatters"] = {"default": json_formatter, "access": dict(json_formatter)}
        config["root"] = {"handlers": ["default"], "level": "WARNING"}
    return config


class LogLimiter:
    """At most `burst` records per key per `interval_s`; the first one after a quiet spell
    says how many were skipped. Pure apart from the logger: the clock is injected."""

    def __init__(
        self,
        logger: logging.Logger,
        *,
        burst: int = 5,
        interval_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 1000,
    ) -> None:
        self.logger = logger
        self.burst = burst
        self.interval_s = interval_s
        self._clock = clock
        self.max_keys = max_keys
        self._seen: dict[str, tuple[float, int, int]] = {}  # key -> (start, logged, skipped)

    def log(self, level: int, key: str, msg: str, *args: object, exc_info: bool = False) -> bool:
        """Log unless `key` used up its share this interval; True when a line was written."""
        skipped = self._take(key)
        if skipped is None:
            return False
        if skipped:
            msg += f" ({skipped} similar lines skipped)"
        self.logger.log(level, msg, *args, exc_info=exc_info)
        return True

    def allow(self, key: str) -> bool:
        """Like `log`, for a record someone else writes: may it be written?"""
        return self._take(key) is not None

    def _take(self, key: str) -> int | None:
        """Lines skipped since the last one written, or None when this one is skipped too."""
        now = self._clock()
        start, logged, skipped = self._seen.get(key, (now, 0, 0))
        if now - start >= self.interval_s:
            start, logged = now, 0
        if logged >= self.burst:
            self._seen[key] = (start, logged, skipped + 1)
            return None
        if len(self._seen) >= self.max_keys and key not in self._seen:
            self._seen.clear()
        self._seen[key] = (start, logged + 1, 0)
        return skipped
