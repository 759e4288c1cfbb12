"""`--log-format json`: one JSON object per line, for log pipelines that parse fields.

Every line has `time` (UTC, ISO 8601 with milliseconds), `level`, `logger`, `message` and
`pid` (which worker wrote it). uvicorn's access lines add `client`, `method`, `path`,
`http_version` and `status`; its WebSocket handshake lines add `client`, `method`
("WebSocket"), `path` and, when refused, `status`. A logged exception adds `exception`
(the traceback text).

The fields are read from the record *after* `logs.PrivacyFilter` has rewritten it, so
`client` is a keyed pseudonym and `path` has no query string, exactly as in text lines.
"""

from __future__ import annotations

import json
import logging
import os
import time
from typing import Any

#: Log formats `autocomplete serve` knows.
LOG_FORMATS = ("text", "json")

#: uvicorn's message templates whose arguments become fields, in argument order.
_FIELDS: dict[str, tuple[str, ...]] = {
    '%s - "%s %s HTTP/%s" %d': ("client", "method", "path", "http_version", "status"),
    '%s - "WebSocket %s" [accepted]': ("client", "path"),
    '%s - "WebSocket %s" 403': ("client", "path"),
    '%s - "WebSocket %s" %d': ("client", "path", "status"),
}
_WEBSOCKET_STATUS = {'%s - "WebSocket %s" 403': 403}


class JsonFormatter(logging.Formatter):
    """A record as one line of JSON (see the module for the fields)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": _utc(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "pid": os.getpid(),
        }
        names = _FIELDS.get(record.msg) if isinstance(record.msg, str) else None
        if names is not None and isinstance(record.args, tuple):
            entry.update(zip(names, record.args, strict=False))
            if "WebSocket" in str(record.msg):
                entry["method"] = "WebSocket"
                if record.msg in _WEBSOCKET_STATUS:
                    entry["status"] = _WEBSOCKET_STATUS[record.msg]
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False, default=str)


def _utc(created: float) -> str:
    seconds = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created))
    return f"{seconds}.{int(created % 1 * 1000):03d}Z"
