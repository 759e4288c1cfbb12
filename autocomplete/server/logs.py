"""Logging setup for the server and uvicorn, with user ids kept out of the logs.

uvicorn logs every WebSocket handshake with its query string at info level, and a `user`
parameter names a person across sessions. `RedactUserFilter` rewrites `user=<id>` to
`user=<redacted>` in every record of the handlers below; it is wired in through uvicorn's
`log_config`, so worker processes get it too.
"""

from __future__ import annotations

import copy
import logging
import re
from typing import Any

from uvicorn.config import LOGGING_CONFIG

_USER_PARAM = re.compile(r"(?<![A-Za-z0-9_])(user=)[^&\s\"']*")


def redact_user_params(text: str) -> str:
    return _USER_PARAM.sub(r"\1<redacted>", text)


class RedactUserFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact_user_params(message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True


def log_config(level: str) -> dict[str, Any]:
    """uvicorn's default logging config plus the redaction filter and our own logger."""
    config = copy.deepcopy(LOGGING_CONFIG)
    config["filters"] = {"redact_user": {"()": f"{__name__}.RedactUserFilter"}}
    for handler in config["handlers"].values():
        handler.setdefault("filters", []).append("redact_user")
    config["loggers"]["autocomplete"] = {
        "handlers": ["default"],
        "level": level.upper(),
        "propagate": False,
    }
    return config
