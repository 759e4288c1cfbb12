"""Spelling tolerance: the prefixes a user with a typo probably meant.

"amazom" extends no training query and "profesional tens u" completes only to queries
nobody wants; "amazon" and "professional tens u" are one edit away. Two routes find such
corrected prefixes (`Spelling`), which the candidate sources then complete:

- the word route checks each typed word against the index's vocabulary (the first words of
  labels and of query endings, with counts): a rare word with a far more frequent variant
  is replaced, and so is a partial last word that begins few words; an unknown word is
  split in two known ones, and two words are joined when the joined word is far more
  frequent ("on line"). The endings then complete queries nobody typed before
  ("professional tens unit").
- the label route edits the whole prefix where it falls off the label trie (the longest
  leading part some label extends), when the word there looks wrong: the typo sits at or
  just before that point ("nwe yo" falls off at "nw"), spaces included.

Both are Damerau-Levenshtein searches bounded by sorted keys (`edits.KeyTable`): one edit
from `min_len` characters, two from `two_edit_len`, the second only on the `beam` one-edit
variants that got furthest into the keys. This module is the policy (which edits to try,
which corrections to keep); `edits` makes and probes the variants. Answers are cached per
word and per prefix, and a search that found nothing is not run again while the user types
on past the typo (`TypoCorrector._close` says when that is exact).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property, lru_cache

import numpy as np

from autocomplete.model.labels import LabelIndex
from autocomplete.model.memo import MemoStats, lru_stats

from .edits import KeyTable, W, edit_plan, variants, vocabulary

#: longest string corrected, in bytes: two insertions and a 0xff end byte still fit in W
MAX_BYTES = W - 3

#: what a search that finds nothing returns
_NO_ROWS = np.zeros((0, W), dtype=np.uint8)
_NO_LENS = np.zeros(0, dtype=np.int64)
_NO_EDITS = np.zeros(0, dtype=np.int64)
for _empty in (_NO_ROWS, _NO_LENS, _NO_EDITS):
    _empty.setflags(write=False)


@dataclass(frozen=True)
class TypoParams:
    """Bounds of the spelling search.

    min_len: characters of a word (or prefix) before one edit is tried (4).
    two_edit_len: characters before two edits are tried (8).
    back: the first edit is tried this many characters before the fall-off point, and at it.
    beam: one-edit variants extended by a second edit (those that got furthest).
    max_count: a typed word (or partial word) counted more often than this is taken as meant.
        0: only words the index never saw are corrected; rare real words ("stopping", one
        edit from "shopping") outnumber misspelled ones the index knows (chosen on dev).
    known_min_len: a word the index knows at all (count 1..max_count) is corrected only from
        this many characters; short real words sit one edit from many others ("tens").
    min_gain: log of how many times more frequent (count + 1) a correction must be than what
        was typed (count + 1).
    edit_cost: what a second edit costs, in the same log units.
    max_spellings: corrected prefixes handed to the candidate sources per keystroke.
    max_past_falloff: the label route stops once the user typed this many characters past
        the fall-off point (they are typing something new; the word route goes on).
    cache_size: words (and prefixes) whose answers are remembered.
    """

    min_len: int = 4
    two_edit_len: int = 8
    back: int = 2
    beam: int = 6
    max_count: int = 0
    known_min_len: int = 6
    min_gain: float = math.log(2.0)
    edit_cost: float = math.log(5.0)
    max_spellings: int = 2
    max_past_falloff: int = 6
    cache_size: int = 50_000


@dataclass(frozen=True)
class Spelling:
    """A corrected prefix, the edits it took, and log(count of the fix / count of the typed)."""

    prefix: str
    edits: int
    gain: float


class TypoCorrector:
    """Corrected prefixes for a typed prefix (`spellings`), from the labels and the words."""

    def __init__(
        self,
        labels: LabelIndex,
        endings: LabelIndex | None = None,
        params: TypoParams | None = None,
    ) -> None:
        self.labels, self.endings = labels, endings
        self.p = params or TypoParams()
        self.min_len = self.p.min_len
        self.label_keys = KeyTable.of(labels)
        # every keystroke after a word re-checks it, and many users mistype alike
        size = self.p.cache_size
        self._typed = lru_cache(maxsize=size)(self._typed)  # type: ignore[method-assign]
        self._fix = lru_cache(maxsize=size)(self._fix)  # type: ignore[method-assign]
        self._split = lru_cache(maxsize=size)(self._split)  # type: ignore[method-assign]
        self._merge = lru_cache(maxsize=size)(self._merge)  # type: ignore[method-assign]
        self._phrase = lru_cache(maxsize=size)(self._phrase)  # type: ignore[method-assign]
        self._phrase_tables = [labels] if endings is None else [labels, endings]
        self.label_fixes = lru_cache(maxsize=size)(self.label_fixes)  # type: ignore[method-assign]
        # (route, string, edit window) of searches that found nothing, nor would one byte on
        self._closed: set[tuple[int, bytes, int, int]] = set()
        self._searches = [0, 0]  # answered by a closed search, run
        if endings is not None:
            self.label_alphabet  # noqa: B018  # make the vocabulary now, not on a keystroke

    @cached_property
    def words(self) -> KeyTable:
        """The vocabulary, made on first use (a corrector may be handed the endings later)."""
        return vocabulary(self._phrase_tables)

    @cached_property
    def alphabet(self) -> bytes:
        """Letters and punctuation that occur in words: what substitutions and insertions
        draw on. Digits are left alone ("1926" is no typo of "1986")."""
        present = np.zeros(256, dtype=bool)
        present[np.unique(self.words.rows)] = True
        return bytes(b for b in range(33, 127) if present[b] and not chr(b).isdigit())

    @cached_property
    def label_alphabet(self) -> bytes:
        """The label route also edits spaces: words run together or split."""
        return b" " + self.alphabet

    def with_endings(self, endings: LabelIndex) -> TypoCorrector:
        """The same corrector with the words of `endings` in its vocabulary."""
        return TypoCorrector(self.labels, endings, self.p)

    # -- the bounded search ----------------------------------------------------------------

    def _search(
        self, s: bytes, table: KeyTable, alphabet: bytes, lo: int, hi: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Variants of `s` some key extends, the first edit at lo..hi: (rows, lengths, edits).
        A second edit (from two_edit_len) only when no one-edit variant is extended.

        A user typing on past a typo asks the same search again with one byte more and the
        same edit window; when the shorter string's search was closed (see `_close`),
        this one finds nothing either, and is not run.
        """
        route = 0 if table is self.label_keys else 1
        if (route, s[:-1], lo, hi) in self._closed:
            self._searches[0] += 1
            if len(s) + 1 != self.p.two_edit_len:  # the extension stays in the same stage
                self._close((route, s, lo, hi))
            return _NO_ROWS, _NO_LENS, _NO_EDITS
        self._searches[1] += 1
        rows, lens = variants(s, alphabet, lo, hi)
        within = table.span(s[:lo])  # every variant, of one edit or two, starts with it
        live = table.extended(rows, lens, within)
        found = bool(live.any())
        if found or len(s) < self.p.two_edit_len:
            if not found and hi <= len(s) - 2 and len(s) + 1 < self.p.two_edit_len:
                self._close((route, s, lo, hi))
            return rows[live], lens[live], np.ones(int(live.sum()), dtype=np.int64)
        # second edit at the new fall-off of the variants that got furthest past their edit
        reach = table.reach(rows, lens, within)
        where = edit_plan(len(s), lo, hi, len(alphabet))[2]
        progress = np.where(reach > where, reach, -1)
        top = np.argsort(-progress, kind="stable")[: self.p.beam]
        top = top[progress[top] > 0]
        more = []
        for i, at in zip(top.tolist(), (reach[top] - 1).tolist(), strict=True):
            v = rows[i, : lens[i]].tobytes()
            # only bytes some key holds there can make a second edit that a key extends
            more.append(variants(v, table.followers(v[:at], alphabet), at, at + 1))
        if not more:
            if hi <= len(s) - 2:
                self._close((route, s, lo, hi))
            return _NO_ROWS, _NO_LENS, _NO_EDITS
        r2 = np.concatenate([r for r, _ in more])
        l2 = np.concatenate([ln for _, ln in more])
        live2 = table.extended(r2, l2, within)
        if not live2.any() and hi <= len(s) - 2 and bool((reach[top] <= lens[top] - 2).all()):
            self._close((route, s, lo, hi))
        return r2[live2], l2[live2], np.full(int(live2.sum()), 2, dtype=np.int64)

    def _close(self, key: tuple[int, bytes, int, int]) -> None:
        """Remember that `_search` of `key` found nothing, and that with any one byte
        appended (the same route and edit window) it finds nothing too.

        Why that holds: the edit window ends at least two bytes before the end, so every
        variant of `s + c` is a variant of `s` with `c` appended, spelled in the same order
        (no swap or insertion touches the new byte); a key that extends a string extends
        its prefixes, so none extends the longer variants. For the second edit, a variant
        no key extends reaches as far with `c` appended, so the same variants lead the
        beam and get the same second edits, which also end two bytes before their end.
        `len(s) + 1 < two_edit_len` keeps a one-edit search from opening the second edit.
        """
        if len(self._closed) >= self.p.cache_size:
            self._closed.clear()
        self._closed.add(key)

    def _best(
        self,
        rows: np.ndarray,
        lens: np.ndarray,
        edits: np.ndarray,
        counts: np.ndarray,
        typed: int,
        need: float,
        s: bytes,
    ) -> list[tuple[str, int, float]]:
        """(variant, edits, gain) of the variants frequent enough to be what was meant, best
        first. gain = log((count + 1) / (typed + 1)), less `edit_cost` for a second edit."""
        gain = np.log1p(counts) - math.log1p(typed) - self.p.edit_cost * (edits - 1)
        ok = np.nonzero((gain >= need) & (counts > 0))[0]
        out: dict[str, tuple[str, int, float]] = {}
        for i in ok[np.argsort(-gain[ok], kind="stable")].tolist():
            b = rows[i, : lens[i]].tobytes()
            if b == s or b == s + b"s" or b + b"s" == s:
                continue  # the typed string itself; a plural or singular is no typo
            try:
                v = b.decode()
            except UnicodeDecodeError:
                continue
            if v not in out and not v.startswith(" ") and "  " not in v:
                out[v] = (v, int(edits[i]), float(gain[i]))
        return list(out.values())

    def memo_stats(self) -> dict[str, MemoStats]:
        """Every memo of the corrector: the label route's answers per prefix, the word
        route's per word (and its splits, merges, word and phrase counts), the searches
        that found nothing (a hit: a search not run because the one a byte shorter was
        closed; a miss: a search run), the bytes keys hold after a start (both key tables
        together) and the edit plans."""
        out = {
            name: lru_stats(memo)
            for name, memo in (
                ("spelling_prefixes", self.label_fixes),
                ("spelling_words", self._fix),
                ("spelling_typed", self._typed),
                ("spelling_splits", self._split),
                ("spelling_merges", self._merge),
                ("spelling_phrases", self._phrase),
            )
        }
        skipped, run = self._searches
        out["spelling_searches"] = MemoStats(skipped, run, len(self._closed))
        followers = lru_stats(self.label_keys.followers)
        if "words" in self.__dict__:  # the vocabulary, once made
            followers = followers.plus(lru_stats(self.words.followers))
        out["spelling_followers"] = followers
        out["spelling_plans"] = lru_stats(edit_plan)
        return out

    # -- the word route --------------------------------------------------------------------

    def _typed(self, word: str, whole: bool) -> int:
        """How often `word` occurs as a word (or, when not `whole`, begins words)."""
        b = word.encode()
        if len(b) >= W:
            return 0  # longer than any key's first word the vocabulary holds
        t = self.words
        lo = int(t.keys.searchsorted(b))  # a scalar probe: cheaper than the batch path
        if whole:
            return int(t.counts[lo]) if lo < t.n and t.keys[lo] == b else 0
        return int(t.cum[int(t.keys.searchsorted(b + b"\xff"))] - t.cum[lo])

    def suspect(self, word: str, whole: bool) -> bool:
        """A word worth correcting: long enough, no digits, and rare (if short, unknown)."""
        if not self.min_len <= len(word) <= MAX_BYTES or any(c.isdigit() for c in word):
            return False
        typed = self._typed(word, whole)
        return typed <= self.p.max_count and (typed == 0 or len(word) >= self.p.known_min_len)

    def _fix(self, word: str, whole: bool) -> tuple[str, int, float] | None:
        """The far more frequent word (or word start, when not `whole`) one edit from a
        suspect `word`, two from `two_edit_len` characters. The first letter is kept: typos
        there are rare, and real words differing there are many ("egan", "vegan")."""
        if not self.suspect(word, whole):
            return None
        s = word.encode()
        if len(s) != len(word):
            return None  # non-ASCII: byte edits would split characters
        typed = self._typed(word, whole)
        # the keystroke before asked nearly the same question: reuse its answer
        short = word if whole else word[:-1]
        if typed == 0 and self._typed(short, False) == 0 and len(short) >= self.min_len:
            before = self._fix(short, False)
            if before is None:
                # no word begins with `short` nor with any variant frequent enough: nor can
                # any begin with (or be) `word` or its variants, unless two edits just opened
                if whole or len(word) != self.p.two_edit_len:
                    return None
            else:
                # keep the correction going while the user types on
                text = before[0] + word[len(short) :]
                n = self._typed(text, whole)
                if math.log1p(n) >= self.p.min_gain + self.p.edit_cost * (before[1] - 1):
                    return text, before[1], math.log1p(n) - self.p.edit_cost * (before[1] - 1)
        far = self.words.reach_one(s)
        # the typo sits at or before the fall-off point; when nothing falls off, anywhere
        lo = max(far - self.p.back, 1) if far < len(s) else 1
        rows, lens, edits = self._search(s, self.words, self.alphabet, lo, min(far, len(s)))
        if not len(lens):
            return None
        counts = self.words.exact_counts(rows) if whole else self.words.prefix_counts(rows, lens)
        for fix in self._best(rows, lens, edits, counts, typed, self.p.min_gain, s):
            # a known word with a letter more or less at its end is another form of it
            # ("damaged", "damage"), not a misspelling
            if not (typed and whole and (fix[0].startswith(word) or word.startswith(fix[0]))):
                return fix
        return None

    def _phrase(self, phrase: str, whole: bool) -> int:
        """How often the words of `phrase` occur in a row: keys of the labels and endings that
        start with them (with its last word whole, or begun when not `whole`)."""
        n = 0
        for ix in self._phrase_tables:
            if whole:
                j = ix.id_of(phrase)
                n += (int(ix.counts[j]) if j >= 0 else 0) + ix.total(*ix.range(phrase + " "))
            else:
                n += ix.total(*ix.range(phrase))
        return n

    def _split(self, word: str, whole: bool) -> tuple[str, int, float] | None:
        """An unknown `word` as two words run together ("blacklight": "black light"), split
        where the two occur in a row most often."""
        if not self.min_len <= len(word) <= MAX_BYTES or any(c.isdigit() for c in word):
            return None
        if self._typed(word, whole):
            return None
        best, most = "", 0
        for i in range(2, len(word) - (1 if whole else 0)):
            a, b = word[:i], word[i:]
            if self._typed(a, True) and (n := self._phrase(f"{a} {b}", whole)) > most:
                best, most = f"{a} {b}", n
        g = math.log1p(most)
        return (best, 1, g) if most and g >= self.p.min_gain else None

    def _merge(self, a: str, b: str, whole: bool) -> tuple[str, int, float] | None:
        """Two typed words meant as one ("on line": "online"): the joined word is far more
        frequent than the two in a row."""
        if len(a + b) < self.min_len or len(b) < 2 or any(c.isdigit() for c in a + b):
            return None
        joined = self._typed(a + b, whole)
        if not joined:
            return None
        g = math.log1p(joined) - math.log1p(self._phrase(f"{a} {b}", whole))
        return (a + b, 1, g) if g >= self.p.min_gain else None

    def word_spellings(self, prefix: str) -> list[Spelling]:
        """The prefix with each suspect word (the partial last one too) corrected, words run
        together split and split words joined; and, when that changed a word the index
        knows (a rare real word, perhaps: "stopping"), the prefix with only the unknown
        words corrected."""
        tokens = prefix.split(" ")  # the last is the partial word ("" after a space)
        every: list[str] = []
        unknown: list[str] = []
        edits, gain, u_edits, u_gain, i = 0, 0.0, 0, 0.0, 0
        while i < len(tokens):
            w, whole = tokens[i], i < len(tokens) - 1
            fix, known = None, True
            if i + 1 < len(tokens) and tokens[i + 1]:
                fix = self._merge(w, tokens[i + 1], i + 1 < len(tokens) - 1)
                if fix is not None:
                    w = f"{w} {tokens[i + 1]}"
                    i += 1
            if fix is None and w:
                fix = self._fix(w, whole) or self._split(w, whole)
                known = self._typed(w, whole) > 0
            every.append(w if fix is None else fix[0])
            unknown.append(fix[0] if fix is not None and not known else w)
            if fix is not None:
                edits, gain = edits + fix[1], gain + fix[2]
                if not known:
                    u_edits, u_gain = u_edits + fix[1], u_gain + fix[2]
            i += 1
        out = [Spelling(" ".join(every), edits, gain)] if edits else []
        if u_edits and u_edits < edits:
            out.append(Spelling(" ".join(unknown), u_edits, u_gain))
        return out

    # -- the label route -------------------------------------------------------------------

    def falloff(self, prefix: str) -> int:
        """Length in bytes of the longest leading part of `prefix` that some label extends."""
        return self.label_keys.reach_one(prefix.encode()[: W - 1])

    def label_spellings(self, prefix: str) -> list[Spelling]:
        """Prefixes some label extends, one (two) edits from a prefix no label extends.

        Only while the word where the prefix falls off looks wrong: "philly j" falls off
        the labels too, but "j" begins many words and the user is typing something new.
        """
        return [Spelling(*fix) for fix in self.label_fixes(prefix)]

    def label_fixes(self, prefix: str) -> tuple[tuple[str, int, float], ...]:
        """`label_spellings` as remembered per prefix: (prefix, edits, gain) in plain tuples,
        which the garbage collector stops walking (a worker remembers tens of thousands of
        answers, most of them empty, and a full pass walks every object it still tracks)."""
        s = prefix.encode()
        if len(prefix) < self.min_len or len(s) != len(prefix) or len(s) > MAX_BYTES:
            return ()
        lo, hi = self.labels.range(prefix)
        if hi > lo:
            return ()
        m = self.falloff(prefix)
        if len(s) - m > self.p.max_past_falloff:
            return ()
        start, end = prefix.rfind(" ", 0, m) + 1, prefix.find(" ", m)
        word = prefix[start : len(prefix) if end < 0 else end]
        if self._typed(word, end >= 0) > self.p.max_count:
            return ()
        t = self.label_keys
        rows, lens, edits = self._search(s, t, self.label_alphabet, max(m - self.p.back, 1), m)
        if not len(lens):
            return ()
        best = self._best(rows, lens, edits, t.prefix_counts(rows, lens), 0, 0.0, s)
        return tuple(best)

    # -- both ------------------------------------------------------------------------------

    def spellings(self, prefix: str) -> list[Spelling]:
        """Up to `max_spellings` corrected prefixes, the strongest evidence first."""
        if len(prefix) < self.min_len:
            return []
        found = self.label_spellings(prefix) + self.word_spellings(prefix)
        best: list[Spelling] = []
        for sp in sorted(found, key=lambda sp: (-sp.gain, sp.edits)):
            # "amazo" already reaches all that "amazon" does
            if not any(sp.prefix.startswith(b.prefix) for b in best):
                best.append(sp)
        return best[: self.p.max_spellings]
