import os
import re

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from autocomplete.blocklist import Blocklist, BlocklistError, ReloadingBlocklist
from indexer.text import normalize_query


def test_phrases_block_whole_words_only():
    b = Blocklist.parse(["ass", "# a comment", "", "Adult  Video"])
    assert b.rules == 2
    assert b.blocks("kick ass") and b.blocks("ass kicking")
    assert not b.blocks("assistant") and not b.blocks("bass guitar")
    assert b.blocks("free adult video clips")  # normalised like completions are


def test_regex_rules_search_anywhere():
    b = Blocklist.parse([r"re:\bporn", r"re:^how to make a bomb"])
    assert b.blocks("free porn") and b.blocks("pornhub") and b.blocks("how to make a bomb at home")
    assert not b.blocks("popcorn")


def test_a_bad_pattern_names_its_line():
    with pytest.raises(BlocklistError, match=r":2: bad pattern"):
        Blocklist.parse(["ok", "re:(unclosed"], "list.txt")


def test_empty_list_blocks_nothing():
    assert not Blocklist.parse([]).blocks("anything")


def test_reload_picks_up_edits_and_keeps_old_rules_on_a_broken_file(tmp_path):
    p = tmp_path / "block.txt"
    p.write_text("badword\n")
    now = [0.0]
    rb = ReloadingBlocklist(p, check_every_s=1.0, clock=lambda: now[0])
    assert rb.blocks("a badword here") and not rb.blocks("worse")
    p.write_text("worse\n")
    os.utime(p, ns=(1, 2_000_000_000))
    assert rb.blocks("a badword here"), "not re-checked before check_every_s"
    now[0] = 1.5
    assert rb.blocks("worse") and not rb.blocks("a badword here") and rb.reloads == 1
    p.write_text("re:(broken\n")
    os.utime(p, ns=(1, 3_000_000_000))
    now[0] = 3.0
    assert rb.blocks("worse"), "a broken file keeps the previous rules"
    assert rb.last_error and "bad pattern" in rb.last_error


PHRASES = ["ab", "a b", "b a b", "é", "ab-c", "x"]


@settings(max_examples=400, deadline=None)
@example(text="a-b a", rules=["a b"])
@given(
    text=st.text(alphabet="abx é-.'", max_size=14),
    rules=st.lists(st.sampled_from(PHRASES), min_size=1, max_size=4, unique=True),
)
def test_word_phrase_lookup_matches_a_whole_word_regex_search(text, rules):
    # plain phrases are looked up among the text's words, not searched as a regex; the
    # answer must be the regex's: the phrase between non-word characters or the ends
    want = re.search(
        "|".join(r"(?<!\w)" + re.escape(normalize_query(r)) + r"(?!\w)" for r in rules), text
    )
    assert Blocklist.parse(rules).blocks(text) == (want is not None)


def test_phrases_with_punctuation_and_regexes_combine_with_word_phrases():
    b = Blocklist.parse(["ab-c", "re:^zz", "kick ass"])
    assert b.rules == 3
    assert b.blocks("x ab-c y") and not b.blocks("ab-cd")
    assert b.blocks("zz top") and b.blocks("super-kick ass!") and not b.blocks("kick  ass2")
    assert not b.blocks("kick-ass") and not b.blocks("kick  ass")  # one space joins a phrase
