"""Normalisation shared by the indexer, the evaluator and the server.

Queries and typed prefixes must be normalised by the *same* rules or completions would not
extend what the user typed. The one difference: a prefix keeps a single trailing space,
because "new " asks for a new word and must not complete to "newark".

The rules fold away differences people do not type consistently, as the search engines users
know do (Typesense, Meilisearch and Algolia all match "cafe" to "café"):

* **width and compatibility forms** (NFKC): full-width "ｎｅｗ" is "new", "ﬁ" is "fi";
* **case** (Unicode case folding, a little wider than lowercasing): "ß" is "ss", "ς" is "σ";
* **accents on Latin and Greek letters**: "é" is "e", "ö" is "o", "ά" is "α". Marks on other
  scripts are letters or vowels there, not decoration, and stay: Japanese "が", Devanagari
  "स्", Cyrillic "й" and "ё" keep theirs;
* **Latin letters that have no decomposition** but that keyboards without them spell with
  plain ones: "ø" is "o", "ł" is "l", "æ" is "ae" (`_LETTERS`).

Folded text is also what a suggestion displays: labels are built from folded queries, so
"café" and "cafe" in the log are one label, and a suggestion reads "cafe", as it already
reads "new york" for a logged "New York". One form everywhere keeps prefix matching, the
`match` span and the personal history consistent at no cost per keystroke. Changing these
rules changes what an index holds: bump `autocomplete.model.manifest.FORMAT_VERSION` with them.
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

#: Lowercase Latin letters without a Unicode decomposition, spelled as a plain keyboard would.
_LETTERS = str.maketrans(
    {
        "ø": "o",
        "đ": "d",
        "ð": "d",
        "ł": "l",
        "ŀ": "l",
        "ħ": "h",
        "ŧ": "t",
        "ı": "i",
        "æ": "ae",
        "œ": "oe",
        "þ": "th",
    }
)


def _accent_base(ch: str) -> bool:
    """Whether accents on `ch` are dropped: Latin (incl. extensions) and Greek letters."""
    cp = ord(ch)
    return cp < 0x0400 or 0x1E00 <= cp <= 0x1FFF


def _strip_accents(text: str) -> str:
    """Drop the combining diacritics (U+0300-U+036F) that follow a Latin or Greek letter."""
    out = []
    keep_marks = True
    for ch in unicodedata.normalize("NFD", text):
        if "\u0300" <= ch <= "\u036f":
            if keep_marks:
                out.append(ch)
            continue
        if not unicodedata.combining(ch):
            keep_marks = not _accent_base(ch)
        out.append(ch)
    return unicodedata.normalize("NFC", "".join(out))


def _fold(text: str) -> str:
    text = _CONTROL.sub("", text)
    if not text.isascii():  # ASCII, most of any log, needs none of the Unicode work
        text = unicodedata.normalize("NFKC", text).casefold()
        text = _strip_accents(text).translate(_LETTERS)
        text = _CONTROL.sub("", text)
    return _SPACE.sub(" ", text.lower())


def normalize_query(text: str) -> str:
    """Fold width, case and accents (see the module), drop control characters, collapse and
    strip whitespace.

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
