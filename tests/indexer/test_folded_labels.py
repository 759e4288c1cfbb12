"""Accent and width folding on the real AOL log: the index is built from folded queries, so
an unaccented or full-width prefix, folded by the same rules, finds the accented ones."""

from __future__ import annotations

from pathlib import Path

from autocomplete.loader import load_index
from autocomplete.ranking import ANONYMOUS
from indexer.text import normalize_prefix

#: Typed prefix -> a completion the logged queries must offer for it (None: any "new york...").
TYPED = {
    "city hotel ma": "city hotel matyas",  # logged "city hotel mátyás"
    "syote": "syote national park",  # logged "syöte national park"
    "georg friedrich han": "georg friedrich handel meine seele hort im sehen",
    "the loveless cafe": "the loveless cafe",  # logged "the loveless café"
    "guillain-barre": "guillain-barre syndrome",
    "city hotel má": "city hotel matyas",  # typing the accent finds it too
    "ｎｅｗ ｙｏｒｋ ": None,
}


def offers(texts: list[str], want: str | None) -> bool:
    return want in texts if want is not None else any(t.startswith("new york ") for t in texts)


def test_unaccented_and_full_width_prefixes_find_the_logged_accented_queries(
    accented_index_dir: Path,
) -> None:
    index = load_index(accented_index_dir)
    for typed, want in TYPED.items():
        texts = [c.text for c in index.ranker.complete(ANONYMOUS, normalize_prefix(typed), 10)]
        assert offers(texts, want), f"{typed!r} -> {texts}"


def test_accented_and_unaccented_spellings_of_a_query_are_one_folded_label(
    accented_index_dir: Path,
) -> None:
    index = load_index(accented_index_dir)
    texts = [c.text for c in index.mpc.complete(ANONYMOUS, "meine seele hort im sehen", 10)]
    assert texts.count("meine seele hort im sehen handel") == 1  # logged "händel" and "handel"
    assert all(t.isascii() for t in texts), texts
