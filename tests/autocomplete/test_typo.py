"""The spelling search on its own: variants, the vectorised lookup, the two routes."""

import gc
from collections import Counter

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from autocomplete.model.artifact import IndexFiles, IndexWriter
from autocomplete.model.labels import ENDINGS, LabelIndex, LabelTable
from autocomplete.typo import corrector
from autocomplete.typo.corrector import TypoCorrector, TypoParams
from autocomplete.typo.edits import KeyTable, edit_plan, variants, vocabulary
from indexer.tables import endings_table

QUERIES = Counter(
    {
        "amazon": 50,
        "amazon books": 20,
        "new york times": 40,
        "new york city": 30,
        "professional resume": 25,
        "professional tens unit": 3,
        "cheap professional cameras": 12,
        "google": 80,
        "google maps": 30,
        "goggle": 2,
        "orlando sentinel": 30,
        "the sentinel": 4,
        "cheap cameras": 5,
        "1986 world cup": 9,
        "tens": 1,
        "mens shoes": 30,
        "wanted: men's shoes": 3,
        "online banking": 40,
        "shop on line": 1,
        "black light bulbs": 10,
        "shopping mall": 200,
        "stopping smoking": 2,
        "morphine pump": 20,
    }
)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """Labels and endings of a handful of queries, written and loaded as the index does."""
    out = tmp_path_factory.mktemp("tiny") / "idx"
    w = IndexWriter(out)
    labels = LabelTable(sorted(QUERIES), np.array([QUERIES[q] for q in sorted(QUERIES)]))
    labels.save(w, heavy_threshold=4, heavy_k=8)
    endings_table(QUERIES).save(w, heavy_threshold=4, heavy_k=8, name=ENDINGS)
    w.commit(model="mpc", label_count=len(labels.texts), build_params={})
    files = IndexFiles(out)
    return LabelIndex.load(files), LabelIndex.load(files, ENDINGS)


@pytest.fixture(scope="module")
def speller(tiny):
    return TypoCorrector(*tiny)


def edits1(s: str, alphabet: str, lo: int = 0, hi: int | None = None) -> set[str]:
    """Every string one Damerau-Levenshtein edit from `s` (itself excluded), the edit at
    lo..hi: the plain-Python reference the vectorised variants must match."""
    hi = len(s) if hi is None else min(hi, len(s))
    splits = [(s[:i], s[i:]) for i in range(max(lo, 0), hi + 1)]
    out = {a + b[1:] for a, b in splits if b}
    out |= {a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1}
    out |= {a + c + b[1:] for a, b in splits if b for c in alphabet}
    out |= {a + c + b for a, b in splits for c in alphabet}
    return out - {s}


def test_edits1_covers_the_four_kinds_of_edit():
    v = edits1("nwe", "abcdefghijklmnopqrstuvwxyz ")
    assert {"new", "ne", "nwee", "nwa", "we"} <= v
    assert "nwe" not in v


@pytest.mark.parametrize(("s", "lo", "hi"), [("nwe", 0, 3), ("amazom", 4, 5), ("googel", 1, 6)])
def test_vectorised_variants_are_exactly_the_one_edit_strings(s, lo, hi):
    alphabet = "aeimnoz "
    rows, lens = variants(s.encode(), alphabet.encode(), lo, hi)
    made = {rows[i, : lens[i]].tobytes().decode() for i in range(len(lens))} - {s}
    assert made == edits1(s, alphabet, lo, hi)


def test_vectorised_lookup_agrees_with_brute_force_on_a_small_index(tiny):
    labels, _ = tiny
    texts = [labels.text(i) for i in range(len(labels))]
    table = KeyTable.of(labels)
    probes = sorted(edits1("amazom", "abmnoz ") | edits1("new yo", "enowy ") | {"goo", "zz"})
    rows = np.zeros((len(probes), 24), dtype=np.uint8)
    lens = np.array([len(p) for p in probes])
    for i, p in enumerate(probes):
        rows[i, : len(p)] = np.frombuffer(p.encode(), dtype=np.uint8)
    reach = table.reach(rows, lens)
    counts = table.prefix_counts(rows, lens)
    extended = table.extended(rows, lens)
    for p, r, c, e in zip(probes, reach.tolist(), counts.tolist(), extended.tolist(), strict=True):
        assert r == max(len(_common(p, t)) for t in texts), p
        assert c == sum(int(labels.counts[i]) for i, t in enumerate(texts) if t.startswith(p)), p
        assert table.reach_one(p.encode()) == r
        assert e == any(t.startswith(p) for t in texts), p
    # searched among the keys that start with what every probe shares, the answers are equal
    for head in ("a", "am", "ama", "n", "new", "x"):
        mine = np.array([p.startswith(head) for p in probes])
        sub, sub_lens = rows[mine], lens[mine]
        within = table.span(head.encode())
        assert (table.reach(sub, sub_lens, within) == reach[mine]).all(), head
        assert (table.extended(sub, sub_lens, within) == extended[mine]).all(), head


def _common(a: str, b: str) -> str:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return a[:n]


def test_vocabulary_counts_every_word_that_starts_a_label_or_an_ending(tiny):
    voc = vocabulary(list(tiny))
    words = {bytes(k).decode(): int(c) for k, c in zip(voc.keys, voc.counts, strict=True)}
    # "york" starts the endings "york times" (40) and "york city" (30)
    assert words["york"] == 70
    assert words["amazon"] == 70  # the labels "amazon" (50) and "amazon books" (20)
    assert "professional" in words and "tens" in words and "sentinel" in words


def test_a_misspelled_single_word_prefix_reaches_the_popular_word(speller):
    assert [s.prefix for s in speller.spellings("amazom")][:1] in (["amazon"], ["amazo"])
    assert any(s.prefix.startswith("goog") for s in speller.spellings("googel"))


def test_a_rare_earlier_word_is_corrected_and_the_rest_kept(speller):
    (sp,) = speller.word_spellings("profesional tens u")
    assert sp.prefix == "professional tens u" and sp.edits == 1


def test_short_known_words_and_common_words_are_left_alone(speller):
    assert speller.word_spellings("tens uni") == []  # "tens" is a word, "mens" is not meant
    assert speller.spellings("new york t") == []
    assert speller.spellings("gog") == []  # under min_len


def test_digits_are_never_edited(speller):
    assert speller.word_spellings("1985 world") == []


def test_two_edit_variants_only_from_eight_characters(speller):
    # "sentnile" (8 characters) and "sentnil" (7) are both two edits from "sentinel"
    (two,) = speller.word_spellings("orlando sentnile ")
    assert two.prefix == "orlando sentinel " and two.edits == 2
    assert speller.word_spellings("orlando sentnil ") == []
    assert speller.word_spellings("proefsional ") != []  # "professional", two edits
    later = TypoCorrector(speller.labels, speller.endings, TypoParams(two_edit_len=20))
    assert later.word_spellings("orlando sentnile ") == []


def test_typing_on_after_a_typo_keeps_the_correction(speller):
    assert [s.prefix for s in speller.word_spellings("profesional")] == ["professional"]
    assert [s.prefix for s in speller.word_spellings("profesional ")] == ["professional "]


def test_the_label_route_fixes_a_word_the_prefix_falls_off_at(speller):
    assert "new yo" in [s.prefix for s in speller.spellings("nwe yo")]


def test_words_run_together_are_split_and_split_words_joined(speller):
    assert [s.prefix for s in speller.word_spellings("on line b")] == ["online b"]
    assert [s.prefix for s in speller.word_spellings("blacklight b")] == ["black light b"]
    assert speller.word_spellings("black light b") == []


def test_words_the_index_knows_are_left_alone_unless_asked(speller):
    # "stopping" is rare here and one edit from "shopping"; "moriphine" is unknown
    assert [s.prefix for s in speller.word_spellings("stopping moriphine")] == ["stopping morphine"]
    bolder = TypoCorrector(speller.labels, speller.endings, TypoParams(max_count=10))
    got = [s.prefix for s in bolder.word_spellings("stopping moriphine")]
    assert got == ["shopping morphine", "stopping morphine"]  # and one fixing unknowns only


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.text(alphabet="amzonegl ysptir'é1-", max_size=30))
def test_any_typed_text_gets_at_most_two_spellings_other_than_itself(speller, prefix):
    got = speller.spellings(prefix)
    assert len(got) <= speller.p.max_spellings
    assert all(s.prefix != prefix and s.edits >= 1 for s in got)


def test_remembered_answers_are_plain_tuples_the_collector_stops_tracking(speller):
    # A worker remembers tens of thousands of these; a full GC pass walks every tracked one.
    found = speller.label_fixes("amazom")
    assert [s.prefix for s in speller.label_spellings("amazom")] == [f[0] for f in found]
    assert found and speller.label_fixes("zzzzzz") == ()
    gc.collect()  # the inner tuples are untracked in this pass, the one holding them in the next
    gc.collect()
    assert not gc.is_tracked(found) and not any(gc.is_tracked(f) for f in found)


def plain_search(c: TypoCorrector, s: bytes, table: KeyTable, alphabet: bytes, lo: int, hi: int):
    """The bounded search spelled out with nothing skipped: every variant from the whole
    alphabet, no search left out for having found nothing one byte shorter. The
    reference `TypoCorrector._search` must agree with, row for row."""
    rows, lens = variants(s, alphabet, lo, hi)
    live = table.extended(rows, lens)  # all keys (checked against brute force above)
    if live.any() or len(s) < c.p.two_edit_len:
        return rows[live], lens[live], np.ones(int(live.sum()), dtype=np.int64)
    reach = table.reach(rows, lens)
    where = edit_plan(len(s), lo, hi, len(alphabet))[2]
    progress = np.where(reach > where, reach, -1)
    top = np.argsort(-progress, kind="stable")[: c.p.beam]
    more = [
        variants(rows[i, : lens[i]].tobytes(), alphabet, int(reach[i]) - 1, int(reach[i]))
        for i in top[progress[top] > 0].tolist()
    ]
    if not more:
        return rows[:0], lens[:0], np.zeros(0, dtype=np.int64)
    r2 = np.concatenate([r for r, _ in more])
    l2 = np.concatenate([ln for _, ln in more])
    live2 = table.extended(r2, l2)
    return r2[live2], l2[live2], np.full(int(live2.sum()), 2, dtype=np.int64)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.sampled_from(["sentnile", "profesional", "nwe yo", "axmzon", "goggel", "orlando", "q"]),
    st.text(alphabet="aeilnorstxz ", min_size=1, max_size=9),
)
def test_the_search_typed_on_byte_by_byte_gives_what_the_plain_search_gives(tiny, start, more):
    # one corrector typed into keystroke by keystroke (searches it remembered as finding
    # nothing are not run again one byte on; second edits spelled only from the bytes keys
    # hold there), against the plain search of every prefix
    c = TypoCorrector(*tiny, TypoParams(two_edit_len=6))
    text = (start + more).encode()[:20]
    # the edit window stays where the typo is while the user types on: from one byte past
    # it (not closable), two (closable), and on; a second edit opens at the 6th byte
    for table, alphabet in ((c.label_keys, c.label_alphabet), (c.words, c.alphabet)):
        for lo, hi in ((1, 1), (1, 2), (2, 4), (3, 4)):
            for n in range(hi + 1, len(text) + 1):
                s = text[:n]
                got = c._search(s, table, alphabet, lo, hi)
                want = plain_search(c, s, table, alphabet, lo, hi)
                assert got[0].tobytes() == want[0].tobytes(), (s, lo, hi)
                assert got[1].tolist() == want[1].tolist()
                assert got[2].tolist() == want[2].tolist()


def test_a_search_that_found_nothing_is_not_run_again_one_byte_on(tiny, monkeypatch):
    c = TypoCorrector(*tiny)
    s = b"qqxzjkvwq"  # nothing near it, and the edit window ends well before its end
    assert len(c._search(s, c.words, c.alphabet, 1, 3)[1]) == 0
    spelled = []
    real = corrector.variants
    monkeypatch.setattr(corrector, "variants", lambda *a: spelled.append(a) or real(*a))
    for more in (b"a", b"ab", b"abc"):
        assert len(c._search(s + more, c.words, c.alphabet, 1, 3)[1]) == 0
    assert spelled == []
    # another edit window is another search
    c._search(s + b"a", c.words, c.alphabet, 2, 3)
    assert spelled


def test_second_edits_are_spelled_only_from_the_bytes_keys_hold_there(tiny):
    labels, _ = tiny
    texts = [labels.text(i).encode() for i in range(len(labels))]
    table = KeyTable.of(labels)
    alphabet = bytes(sorted(set(b"".join(texts))))
    for head in (b"", b"n", b"new y", b"amazon", b"zz"):
        n = len(head)
        held = {t[j] for t in texts if t.startswith(head) for j in (n, n + 1) if j < len(t)}
        assert table.followers(head, alphabet) == bytes(sorted(held)), head
