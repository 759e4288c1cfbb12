"""Keep offensive or unwanted completions out, whatever source proposed them.

A blocklist file has one rule per line:
    word or phrase      blocks completions containing it as whole words ("ass" blocks
                        "kick ass" but not "assistant")
    re:PATTERN          a Python regular expression searched in the completion
    # comment / blank   ignored
Matching runs on normalised text (lowercase, collapsed spaces), the form completions have.
`ReloadingBlocklist` re-reads the file when its modification time changes (checked at most
once per `check_every_s`), so operators edit it without a restart; a file that fails to parse
keeps the previous rules and the error is reported, never half-applied.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from indexer.text import normalize_query

log = logging.getLogger(__name__)


class BlocklistError(ValueError):
    """A blocklist file cannot be read or has an invalid pattern (line number in message)."""


@dataclass(frozen=True)
class Blocklist:
    """Compiled rules; `blocks(text)` is one regex search."""

    pattern: re.Pattern[str] | None
    rules: int

    @classmethod
    def parse(cls, lines: Iterable[str], origin: str = "<blocklist>") -> Blocklist:
        parts: list[str] = []
        for n, raw in enumerate(lines, 1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            if line.startswith("re:"):
                expr = line[3:].strip()
                try:
                    re.compile(expr)
                except re.error as exc:
                    raise BlocklistError(f"{origin}:{n}: bad pattern {expr!r}: {exc}") from None
                parts.append(f"(?:{expr})")
            else:
                phrase = normalize_query(line)
                if phrase:
                    parts.append(r"(?<!\w)" + re.escape(phrase) + r"(?!\w)")
        return cls(re.compile("|".join(parts)) if parts else None, len(parts))

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Blocklist:
        try:
            with open(path, encoding="utf-8") as fh:
                return cls.parse(fh, str(path))
        except (OSError, UnicodeDecodeError) as exc:
            raise BlocklistError(f"{path}: cannot read blocklist ({exc})") from None

    def blocks(self, text: str) -> bool:
        return self.pattern is not None and self.pattern.search(text) is not None


EMPTY = Blocklist(None, 0)


class ReloadingBlocklist:
    """A blocklist file watched by mtime; `current()` is cheap enough to call per keystroke."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        check_every_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = os.fspath(path)
        self.check_every_s = check_every_s
        self._clock = clock
        self._mtime = os.stat(self.path).st_mtime_ns
        self._list = Blocklist.load(self.path)  # a bad file at start is an error, not a warning
        self._checked = clock()
        self.last_error: str | None = None
        self.reloads = 0

    def current(self) -> Blocklist:
        now = self._clock()
        if now - self._checked >= self.check_every_s:
            self._checked = now
            self._maybe_reload()
        return self._list

    def _maybe_reload(self) -> None:
        try:
            mtime = os.stat(self.path).st_mtime_ns
        except OSError as exc:
            self.last_error = f"{self.path}: {exc}"
            return
        if mtime == self._mtime:
            return
        try:
            self._list = Blocklist.load(self.path)
        except BlocklistError as exc:
            self.last_error = str(exc)
            log.error("blocklist not reloaded, keeping %d rules: %s", self._list.rules, exc)
        else:
            self.last_error = None
            self.reloads += 1
        self._mtime = mtime

    def blocks(self, text: str) -> bool:
        return self.current().blocks(text)
