"""The featuriser's analyzers: small pure functions from text to weighted terms.

`char_ngrams` is the prefix-weighted char n-gram analyzer of every row the featuriser makes
(typed prefixes at serving time, training prefixes, label texts); `context_words` is the word
analyzer of a session's previous queries.
"""

from __future__ import annotations

from collections.abc import Sequence

#: the word a session's first query sees in its (empty) context block
START_TOKEN = "\x02start"
#: positions past this one weigh as this one (so weights are a small table)
MAX_POS = 512


def char_ngrams(
    text: str, ngram_max: int, position_decay: float, word_start_boost: float
) -> dict[str, float]:
    """Prefix-weighted char n-gram counts of `text`: {gram: sum of its occurrence weights}.

    An occurrence starting at position i weighs 1/(i+1)**position_decay, times
    word_start_boost when i == 0 or text[i-1] == " " (positions from 511 on weigh as 511).
    This is the analyzer of every row the featuriser makes.
    """
    out: dict[str, float] = {}
    n = len(text)
    for i in range(n):
        w = (min(i, MAX_POS - 1) + 1.0) ** -position_decay
        if i == 0 or text[i - 1] == " ":
            w *= word_start_boost
        for j in range(i + 1, min(n, i + ngram_max) + 1):
            g = text[i:j]
            out[g] = out.get(g, 0.0) + w
    return out


def context_words(
    prev_queries: Sequence[str], window: int, decay: float, start_token: bool
) -> dict[str, float]:
    """Word counts of the session's last `window` queries, the most recent weighing 1.

    An empty context gives {START_TOKEN: 1} when `start_token`, else {}.
    """
    out: dict[str, float] = {}
    if not prev_queries:
        if start_token:
            out[START_TOKEN] = 1.0
        return out
    w = 1.0
    for q in reversed(prev_queries[-window:]):
        if w <= 0.0:
            break
        for t in q.split():
            out[t] = out.get(t, 0.0) + w
        w *= decay
    return out
