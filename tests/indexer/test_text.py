from hypothesis import given, settings
from hypothesis import strategies as st

from indexer.text import normalize_prefix, normalize_query


def test_query_is_lowercased_and_whitespace_collapsed():
    assert normalize_query("  New   York\tTimes ") == "new york times"


def test_aol_placeholder_and_blank_queries_are_dropped():
    assert normalize_query("-") == ""
    assert normalize_query("   ") == ""


def test_prefix_keeps_one_trailing_space_so_new_word_is_not_newark():
    assert normalize_prefix("new ") == "new "
    assert normalize_prefix("New   ") == "new "
    assert not "newark".startswith(normalize_prefix("new "))


def test_prefix_drops_leading_space_and_control_characters():
    assert normalize_prefix("  a\x00b\u200bc\x1b") == "abc"


def test_query_and_prefix_agree_so_completions_extend_what_was_typed():
    q = normalize_query("Amazon.COM  Books")
    for i in range(1, len(q)):
        assert q.startswith(normalize_prefix(q[:i]))


def test_accents_on_latin_letters_are_folded_so_cafe_finds_cafe_with_accent():
    assert normalize_query("Café") == "cafe"
    assert normalize_query("city hotel Mátyás") == "city hotel matyas"
    assert normalize_query("syöte national park") == "syote national park"
    assert normalize_query("phở") == "pho"  # two stacked marks (horn, hook)
    assert "cafe au lait".startswith(normalize_prefix("cafe"))
    assert normalize_prefix("café ") == normalize_prefix("cafe ") == "cafe "


def test_a_decomposed_accent_folds_like_a_precomposed_one():
    assert normalize_query("e\u0301clair") == normalize_query("\u00e9clair") == "eclair"


def test_full_width_and_compatibility_forms_fold_to_ascii():
    assert normalize_query("ｎｅｗ ｙｏｒｋ") == "new york"
    assert normalize_prefix("ＮＥＷ　") == "new "  # the ideographic space is a space too
    assert normalize_query("ﬁsh") == "fish"


def test_letters_without_a_decomposition_are_spelled_as_plain_keyboards_do():
    assert normalize_query("Søren Łódź Straße Æsop") == "soren lodz strasse aesop"


def test_marks_that_are_letters_in_other_scripts_are_kept():
    assert normalize_query("がぎ") == "がぎ"  # Japanese voiced kana
    assert normalize_query("नमस्ते") == "नमस्ते"  # Devanagari virama
    assert normalize_query("йёж") == "йёж"  # Cyrillic letters of their own


def test_greek_accents_fold_and_case_folding_is_unicodes():
    assert normalize_query("Άθήνα") == "αθηνα"
    assert normalize_query("İstanbul") == "istanbul"


@settings(max_examples=400, deadline=None)
@given(st.text())
def test_normalising_twice_changes_nothing(text: str) -> None:
    once = normalize_query(text)
    assert normalize_query(once) == once
    assert normalize_prefix(normalize_prefix(text)) == normalize_prefix(text)


_ACCENTED = st.characters(codec="latin-1") | st.sampled_from("ﬁｎｅＷ\u3000\u0301\u0308ŁØßẞőǅΆάΣς")


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=_ACCENTED))
def test_every_typed_prefix_of_accented_text_is_a_prefix_of_the_folded_text(text: str) -> None:
    whole = normalize_prefix(text)
    for i in range(len(text) + 1):
        assert whole.startswith(normalize_prefix(text[:i]))
