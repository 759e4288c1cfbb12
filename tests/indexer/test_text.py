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
