"""Real misspellings in a query log: queries the next query of their session corrects.

A correction is within Damerau-Levenshtein distance 1-2 of a query of at least 4 characters
and is not a mere extension or truncation of it. Every prefix of the misspelled query from
the first wrong character on is a keystroke whose target is the correction, with the
session's earlier queries as context: what a speller is measured on (`bench/typo.py`) and
its thresholds chosen with (on dev, never on test).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from .sessions import Example, Session


def osa_distance(a: str, b: str, cap: int = 3) -> int:
    """Optimal string alignment distance (Damerau-Levenshtein with adjacent swaps), capped."""
    if abs(len(a) - len(b)) >= cap:
        return cap
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = a[i - 1] != b[j - 1]
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        prev2, prev = prev, cur
    return min(prev[-1], cap)


def misspellings(sessions: Iterable[Session]) -> Iterator[tuple[Session, int, str]]:
    """(session, j, correction): the j-th query is corrected by the next one of its session.

    A correction is within Damerau-Levenshtein distance 1-2 of a query of at least 4
    characters and is not a mere extension or truncation of it. Some are reformulations
    ("top 10 foods" -> "top 12 foods") that no speller can or should guess.
    """
    for s in sessions:
        for j in range(len(s.queries) - 1):
            bad, good = s.queries[j], s.queries[j + 1]
            if len(bad) < 4 or good.startswith(bad) or bad.startswith(good):
                continue
            if osa_distance(bad, good) in (1, 2):
                yield s, j, good


def correction_examples(sessions: Iterable[Session], max_context: int = 10) -> Iterator[Example]:
    """Keystrokes of misspelled queries whose target is what the user meant, the correction:
    every prefix from the first wrong character on (and of 4 characters or more), with the
    session's earlier queries as context."""
    for s, j, good in misspellings(sessions):
        bad = s.queries[j]
        first = next(
            (i for i, (x, y) in enumerate(zip(bad, good, strict=False)) if x != y), len(bad)
        )
        ctx = s.queries[max(0, j - max_context) : j]
        for i in range(max(first + 1, 4), len(bad) + 1):
            yield Example(ctx[-1] if ctx else "", bad[:i], good, s.user, s.times[j], ctx)
