"""Normalisation shared by the indexer, the evaluator and the server.

Queries and typed prefixes must be normalised by the *same* rules or completions would not
extend what the user typed. The one difference: a prefix keeps a single trailing space,
because "new " asks for a new word and must not complete to "newark".
"""

from __future__ import annotations

import re
import unicodedata

# Everything Unicode calls a control/format char (category C*), except whitespace we fold.
_CONTROL = re.compile(
    r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]"
)
_SPACE = re.compile(r"\s+")

#: AOL writes "-" for a query it withheld; it is not something anyone typed.
AOL_PLACEHOLDERS = frozenset({"-"})


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKC", text)
    text = _CONTROL.sub("", text)
    return _SPACE.sub(" ", text.lower())


def normalize_query(text: str) -> str:
    """Lowercase, NFKC, drop control characters, collapse and strip whitespace.

    Returns "" for a query that should be dropped (empty or AOL's placeholder).
    """
    q = _fold(text).strip()
    return "" if q in AOL_PLACEHOLDERS else q


def normalize_prefix(text: str) -> str:
    """Like `normalize_query`, but a trailing run of whitespace becomes one kept space.

    Leading whitespace is dropped (a query never starts with a space).
    """
    p = _fold(text).lstrip()
    return p
