import pytest

from autocomplete.blend import BlendRanker
from autocomplete.loader import load_index
from autocomplete.typo import TypoCorrector, edits1


def test_edits1_covers_the_four_kinds_of_edit():
    v = edits1("nwe", "abcdefghijklmnopqrstuvwxyz ")
    assert {"new", "ne", "nwee", "nwa", "we"} <= v
    assert "nwe" not in v
    assert all(not x.startswith(" ") and "  " not in x for x in v)


@pytest.fixture(scope="module")
def idx(blend_index_dir):
    return load_index(blend_index_dir)


def test_a_misspelled_prefix_finds_the_popular_query_one_edit_away(idx):
    typo = TypoCorrector(idx.labels)
    texts = [idx.labels.text(c.label) for c in typo.corrections("googel", 5)]
    assert "google" in texts
    assert all(
        t.startswith(c.corrected_prefix)
        for t, c in zip(texts, typo.corrections("googel", 5), strict=True)
    )


def test_short_prefixes_are_not_corrected(idx):
    assert TypoCorrector(idx.labels).corrections("gogl"[:3], 5) == []


def test_ranker_marks_corrections_and_never_puts_them_above_exact_matches(idx):
    r = idx.ranker
    assert isinstance(r, BlendRanker)
    items = r.complete((), "googel", 10)
    fixed = [c for c in items if c.corrected]
    assert fixed, "no spelling correction offered for 'googel'"
    assert all(c.typed == len("googl") or c.text.startswith(c.text[: c.typed]) for c in fixed)
    exact = [i for i, c in enumerate(items) if not c.corrected and c.source in ("index", "history")]
    first_fix = min(i for i, c in enumerate(items) if c.corrected)
    assert all(i < first_fix for i in exact)
    scores = [c.score for c in items]
    assert scores == sorted(scores, reverse=True)
