"""Keep offensive or unwanted completions out, whatever source proposed them.

A blocklist file has one rule per line:
    word or phrase      blocks completions containing it as whole words ("ass" blocks
                        "kick ass" but not "assistant")
    re:PATTERN          a Python regular expression searched in the completion
    # comment / blank   ignored
Matching runs on normalised text (lowercase, collapsed spaces), the form completions have.
Phrases made of word characters and single spaces (nearly all of a real list) are looked up
in a set over the text's words, not searched as a regex alternation: a reply tests 20 or
more texts per keystroke and one alternation of many phrases costs ~17 µs a text.
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


_WORD = re.compile(r"\w+")
_PLAIN = re.compile(r"\w+(?: \w+)*")


@dataclass(frozen=True)
class Blocklist:
    """Compiled rules: whole-word phrases of word characters in a set (`phrases`, at most
    `max_words` words), every other rule in one regex (`pattern`)."""

    pattern: re.Pattern[str] | None
    rules: int
    phrases: frozenset[str] = frozenset()
    max_words: int = 0

    @classmethod
    def parse(cls, lines: Iterable[str], origin: str = "<blocklist>") -> Blocklist:
        parts: list[str] = []
        phrases: set[str] = set()
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
                if phrase and _PLAIN.fullmatch(phrase):
                    phrases.add(phrase)
                elif phrase:
                    parts.append(r"(?<!\w)" + re.escape(phrase) + r"(?!\w)")
        return cls(
            re.compile("|".join(parts)) if parts else None,
            len(parts) + len(phrases),
            frozenset(phrases),
            max((p.count(" ") + 1 for p in phrases), default=0),
        )

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Blocklist:
        try:
            with open(path, encoding="utf-8") as fh:
                return cls.parse(fh, str(path))
        except (OSError, UnicodeDecodeError) as exc:
            raise BlocklistError(f"{path}: cannot read blocklist ({exc})") from None

    def blocks(self, text: str) -> bool:
        if self.phrases and self._has_phrase(text):
            return True
        return self.pattern is not None and self.pattern.search(text) is not None

    def _has_phrase(self, text: str) -> bool:
        """Whether a run of the text's words, joined by single spaces, is a phrase: the
        same as searching each phrase between non-word boundaries."""
        if self.max_words == 1:
            return not self.phrases.isdisjoint(_WORD.findall(text))
        words = [(m.group(), m.start(), m.end()) for m in _WORD.finditer(text)]
        for i, (w, _, end) in enumerate(words):
            if w in self.phrases:
                return True
            run = w
            for w2, start2, end2 in words[i + 1 : i + self.max_words]:
                if start2 != end + 1 or text[end] != " ":
                    break
                run = f"{run} {w2}"
                end = end2
                if run in self.phrases:
                    return True
        return False


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
