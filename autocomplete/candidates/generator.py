"""Candidate sources: where the blended ranker's suggestions come from, with their features.

Each keystroke gathers a few dozen candidates, all extending the typed prefix:
    labels       the most popular training queries extending the prefix (MPC)
    model        the XR-Linear model's best labels by path score (when the index has one)
    transitions  queries that followed one of the session's previous queries in training
    generated    typed words + a popular query ending that extends the partial last word,
                 backing off from the last 3 typed words of context to none
    session      the session's own earlier queries
    history      the user's own past queries (personal history)
    typos        the label, generated, session and history sources again on a spelling
                 correction of the prefix (`autocomplete.typo`)
and a row of `schema.FEATURES` per candidate. Pure: arrays and strings in, arrays out.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

import numpy as np

from autocomplete.model.labels import SEP, LabelIndex
from autocomplete.model.memo import MemoStats, lru_stats
from autocomplete.model.wordlm import WordLM
from autocomplete.ranking import Context, extending
from autocomplete.typo.corrector import TypoCorrector
from session_store.base import HistoryEntry

from .schema import LOG_FLOOR, UNKNOWN, XMR_COLUMNS, Block, CandidateSet, F

(
    _BIAS_LABEL,
    _BIAS_GEN,
    _LABEL_LOGP,
    _LABEL_LOGCOUNT,
    _TRANS_LOGP,
    _TRANS_ANY,
    _GEN_LOGP,
    _GEN_CONTEXT,
    _IN_SESSION,
    _IS_PREV,
    _PREV_WORD_SHARE,
    _EXTRA_WORDS,
    _EXTRA_CHARS,
    _HIST_LOGCOUNT,
    _HIST_RECENCY,
    _HIST_PRESENT,
    _HIST_LOGP,
    _HIST_AGE,
    _HIST_RANK,
    _LM_TOTAL,
    _CORRECTED,
) = (
    F[name]
    for name in (
        "bias_label",
        "bias_generated",
        "label_logp",
        "label_logcount",
        "trans_logp",
        "trans_any",
        "gen_logp",
        "gen_context",
        "in_session",
        "is_prev",
        "prev_word_share",
        "extra_words",
        "extra_chars",
        "hist_logcount",
        "hist_recency",
        "hist_present",
        "hist_logp",
        "hist_age",
        "hist_rank",
        "lm_total",
        "corrected",
    )
)


#: prefixes whose own candidates (`Block`s) a generator remembers, the most recently used
PREFIX_MEMO = 1 << 12
#: a generated completion: text, label id (-1: none), gen_logp, gen_context
Generated = tuple[str, int, float, float]


class ModelKeystroke(Protocol):
    """One keystroke of a label model: its own candidates, then its features of any labels
    (the two share the keystroke's work)."""

    def candidates(self, n: int) -> tuple[np.ndarray, np.ndarray]: ...

    def session_candidates(self, n: int) -> np.ndarray: ...

    def features(self, ids: np.ndarray) -> np.ndarray: ...


class LabelModel(Protocol):
    """A session-aware label model (the XR-Linear ranker) the blend draws on."""

    def keystroke(self, previous: Sequence[str], prefix: str, path: bool) -> ModelKeystroke: ...

    def memo_stats(self) -> dict[str, MemoStats]: ...


@dataclass(frozen=True)
class CandidateParams:
    """How many candidates each source contributes per keystroke (bounded work)."""

    n_labels: int = 30
    n_transitions: int = 15
    n_generated: int = 15
    max_context_words: int = 3
    max_prev_queries: int = 3
    n_model: int = 20
    n_model_session: int = 10  # the model's labels the session speaks for (successors, topic)
    #: the model's path scores and candidates from this many typed characters on (its session
    #: features at every length): at one character a prefix holds up to ~10,000 labels,
    #: scoring them costs a millisecond, and the blend fitted on dev weighs the path score
    #: there at 0.02 (anonymous) and -0.06 (personal); the earlier hand-tuned weights had 0
    model_min_chars: int = 2
    n_typo: int = 5  # per corrected prefix: labels, and generated completions


def split_prefix(prefix: str) -> tuple[list[str], str]:
    """("new york ti") -> (["new", "york"], "ti"); a trailing space leaves the partial word ""."""
    head, _, partial = prefix.rpartition(" ")
    return (head.split(" ") if head else []), partial


class CandidateGenerator:
    """Gathers candidates for (context, prefix) from the index's sorted tables."""

    def __init__(
        self,
        labels: LabelIndex,
        endings: LabelIndex,
        transitions: LabelIndex,
        params: CandidateParams | None = None,
        typo: TypoCorrector | None = None,
        lm: WordLM | None = None,
    ) -> None:
        self.labels, self.endings, self.transitions = labels, endings, transitions
        self.lm = lm  # None: an index from before the word model; its column stays 0
        self.p = params or CandidateParams()
        # the word route corrects against the query endings: a corrector made on the labels
        # alone is given ours
        if typo is not None and typo.endings is None:
            typo = typo.with_endings(endings)
        self.typo = typo
        # What depends on the typed prefix alone, shared by every visitor who types it: its
        # popular labels and generated completions, and those of its spelling corrections.
        self.exact = lru_cache(maxsize=PREFIX_MEMO)(self._exact)
        self.typo_blocks = lru_cache(maxsize=PREFIX_MEMO)(self._typo_blocks)

    def gather(
        self,
        context: Context,
        prefix: str,
        model: LabelModel | None = None,
        need: int | None = None,
    ) -> CandidateSet:
        """Every source's candidates for one keystroke, with their feature rows.

        `need`: the caller ranks only the best `need` candidates, and no spelling correction
        ranks above a query that extends the prefix as typed (`BlendRanker`); so when the
        prefix as typed already has `need` known queries or history items among its
        candidates, the corrections cannot reach the answer and are not gathered (the
        ranking is the same; only the softmax's total over all candidates is not).
        """
        if not prefix:
            return CandidateSet()
        previous, history, now = context.previous, context.history, context.now
        exact = self.exact(prefix)
        cs = CandidateSet.of(exact)
        ks = None
        if model is not None:
            with_path = len(prefix) >= self.p.model_min_chars
            ks = model.keystroke(previous, prefix, with_path)
            mine = ks.candidates(self.p.n_model)[0].tolist() if with_path else []
            ids = [*mine, *ks.session_candidates(self.p.n_model_session).tolist()]
            for i, text in zip(ids, self.labels.texts(ids), strict=True):
                cs.row(text, i)
        self._transitions(cs, previous, prefix)
        self._session(cs, previous, prefix)
        n_history = len(cs)
        self._history(cs, history, prefix, now)
        n_history = len(cs) - n_history
        # known queries or history items extending the prefix as typed, for certain: the
        # block's labels and the history items that added a row (the rest merged into rows)
        if need is None or exact.known + n_history < need:
            self._typos(cs, self.typo_blocks(prefix), previous, history, now)
        self._finish_prefix(cs, prefix)
        self._finish_context(cs, prefix, previous, ks)
        return cs

    def memo_stats(self) -> dict[str, MemoStats]:
        """Every memo the candidate sources keep, by name (for the server's metrics): the
        prefix blocks, the label tables' (`labels_ranges`, `endings_tops`, ...), the word
        model's and the spelling corrector's."""
        out = {"exact": lru_stats(self.exact), "typos": lru_stats(self.typo_blocks)}
        for table in (self.labels, self.endings, self.transitions):
            for kind, stats in table.memo_stats().items():
                out[f"{table.name}_{kind}"] = stats
        if self.lm is not None:
            out.update(self.lm.memo_stats())
        if self.typo is not None:
            out.update(self.typo.memo_stats())
        return out

    def _exact(self, prefix: str) -> Block:
        """The prefix's popular labels and generated completions, finished."""
        cs = CandidateSet()
        self._labels(cs, prefix, self.p.n_labels)
        self._generated(cs, prefix, self.p.n_generated)
        self._finish_prefix(cs, prefix)
        return Block(cs)

    def _typo_blocks(self, prefix: str) -> tuple[tuple[str, Block], ...]:
        """Per spelling correction of `prefix`: the corrected prefix, and its labels and
        generated completions marked as corrections, finished for the typed `prefix`."""
        if self.typo is None or len(prefix) < self.typo.min_len:
            return ()
        typos = []
        for sp in self.typo.spellings(prefix):
            sub = CandidateSet()
            self._labels(sub, sp.prefix, self.p.n_typo)
            self._generated(sub, sp.prefix, self.p.n_typo)
            self._correct(sub, sp.prefix, range(len(sub)))
            self._finish_prefix(sub, prefix)
            typos.append((sp.prefix, Block(sub)))
        return tuple(typos)

    def _labels(self, cs: CandidateSet, prefix: str, n: int) -> None:
        ids = self.labels.top_popular(prefix, n).tolist()
        for i, text in zip(ids, self.labels.texts(ids), strict=True):
            cs.row(text, i)

    def _transitions(self, cs: CandidateSet, previous: Sequence[str], prefix: str) -> None:
        tr = self.transitions
        recent = list(previous[-self.p.max_prev_queries :])[::-1]
        for age, prev in enumerate(recent):
            key = prev + SEP
            lo_all, hi_all = tr.range(key)
            if hi_all <= lo_all:
                continue
            out_total = tr.total(lo_all, hi_all)
            ids = tr.top_popular(key + prefix, self.p.n_transitions).tolist()
            cut = len(key)
            for i, text in zip(ids, tr.texts(ids), strict=True):
                c = int(tr.counts[i])
                r = cs.row(text[cut:])
                if age == 0:
                    r[_TRANS_LOGP] = math.log(c / (out_total + 1.0))
                else:
                    r[_TRANS_ANY] = max(r[_TRANS_ANY], math.log1p(c))

    def _generated(self, cs: CandidateSet, prefix: str, budget: int) -> None:
        for text, label, logp, context in self._generated_rows(prefix, budget):
            r = cs.row(text, label)
            r[_GEN_LOGP] = logp
            r[_GEN_CONTEXT] = context

    def _generated_rows(self, prefix: str, budget: int) -> tuple[Generated, ...]:
        """The generated completions of `prefix` in the order they join, with their label id
        and features."""
        words, partial = split_prefix(prefix)
        en, lab = self.endings, self.labels
        max_c = min(len(words), self.p.max_context_words)
        seen: set[str] = set()
        rows: list[Generated] = []
        for c in range(max_c, -1, -1):
            if c == 0 and not partial:
                break  # no typed context and nothing of the word: any ending would do
            ctx = words[len(words) - c :]
            route = (" ".join(ctx) + " " + partial) if c else partial
            lo, hi = en.range(route)
            if hi <= lo:
                continue
            total = en.total(lo, hi)
            head = " ".join(words[: len(words) - c])
            ids = en.top_popular(route, budget).tolist()
            for i, ending in zip(ids, en.texts(ids), strict=True):
                text = f"{head} {ending}" if head else ending
                if text in seen or _repeats_a_word(text):
                    continue
                # contexts are tried longest first, so the first route found is the best one
                seen.add(text)
                rows.append((text, lab.id_of(text), math.log(int(en.counts[i]) / total), c / 3))
            budget = max(5, budget // 2)
        return tuple(rows)

    def _session(self, cs: CandidateSet, previous: Sequence[str], prefix: str) -> None:
        for q in previous:
            if q.startswith(prefix):
                cs.row(q)[_IN_SESSION] = 1.0

    def _history(
        self, cs: CandidateSet, history: Sequence[HistoryEntry], prefix: str, now: float
    ) -> None:
        mine = extending(history, prefix)
        if not mine:
            return
        total = float(sum(h.count for h in mine))
        mine.sort(key=lambda h: -h.last_used)
        for rank, h in enumerate(mine):
            count, last = h.count, h.last_used
            r = cs.row(h.query)
            r[_HIST_RANK] = math.log1p(rank)
            r[_HIST_PRESENT] = 1.0
            r[_HIST_LOGCOUNT] = math.log1p(count)
            r[_HIST_LOGP] = math.log(count / total) if count > 0 else LOG_FLOOR
            age_s = max(0.0, now - last)
            r[_HIST_RECENCY] = math.exp(-age_s / 86400.0 / 30.0)
            r[_HIST_AGE] = math.log1p(age_s / 3600.0)

    def _typos(
        self,
        cs: CandidateSet,
        typos: Sequence[tuple[str, Block]],
        previous: Sequence[str],
        history: Sequence[HistoryEntry],
        now: float,
    ) -> None:
        """What the user probably meant: the label and generated sources on each corrected
        prefix (`TypoCorrector.spellings`, remembered in `typo_blocks`), with the session
        and history sources run again on it, smaller budgets.

        Rows keep their features relative to the corrected prefix (label_logp among the
        labels extending it) and carry `corrected`; a text the typed prefix already reached
        stays an exact candidate.
        """
        for fixed, block in typos:
            if any(q.startswith(fixed) for q in previous) or extending(history, fixed):
                sub = CandidateSet.of(block)
                self._session(sub, previous, fixed)
                self._history(sub, history, fixed, now)
                self._correct(sub, fixed, range(len(block), len(sub)))
                x = sub.matrix()
                for i, text in enumerate(sub.texts):
                    if text not in cs:
                        cs.add(text, sub.labels[i], x[i], sub.done[i])
                        cs.corrected[text] = fixed
                continue
            for i, text in enumerate(block.texts):
                if text not in cs:
                    cs.add_from(block, i)
                    cs.corrected[text] = fixed

    def _correct(self, cs: CandidateSet, fixed: str, rows: Iterable[int]) -> None:
        """Mark `rows` as extending the correction `fixed`, their label_logp among its labels."""
        lab = self.labels
        lo, hi = lab.range(fixed)
        total = lab.total(lo, hi)
        x = cs.matrix()
        for i in rows:
            j = cs.labels[i]
            if j == UNKNOWN:
                j = cs.labels[i] = lab.id_of(cs.texts[i])
            x[i, _CORRECTED] = 1.0
            c = int(lab.counts[j]) if j >= 0 else 0
            if c and total:
                x[i, _LABEL_LOGP] = math.log(c / total)
            cs.corrected[cs.texts[i]] = fixed

    def _finish_prefix(self, cs: CandidateSet, prefix: str) -> None:
        """The features of the rows not finished yet that depend on the typed prefix alone:
        label or not, the label's popularity, characters and words added, how natural the
        whole text reads (the word model)."""
        todo = [i for i, d in enumerate(cs.done) if not d]
        if not todo:
            return
        lab, texts = self.labels, cs.texts
        x = cs.matrix()
        rows = np.array(todo)
        for i in todo:
            if cs.labels[i] == UNKNOWN:
                cs.labels[i] = lab.id_of(texts[i])
            cs.done[i] = True
        ids = np.array([cs.labels[i] for i in todo], dtype=np.int64)
        is_lab = ids >= 0
        x[rows, _BIAS_LABEL] = is_lab
        x[rows, _BIAS_GEN] = ~is_lab
        if is_lab.any():
            lab_rows, lab_ids = rows[is_lab], ids[is_lab]
            c = lab.counts[lab_ids].astype(np.float64)
            x[lab_rows, _LABEL_LOGCOUNT] = np.log1p(c)
            lo, hi = lab.range(prefix)
            total = lab.total(lo, hi) if hi > lo else 0
            if total:  # corrections keep theirs, among the labels of the corrected prefix
                exact = x[lab_rows, _CORRECTED] == 0
                x[lab_rows[exact], _LABEL_LOGP] = np.log(c[exact] / total)
        words = [texts[i] for i in todo]
        if self.lm is not None:
            x[rows, _LM_TOTAL] = self.lm.of_candidates(ids, words)
        lens = np.fromiter(map(len, words), dtype=np.float64, count=len(words))
        x[rows, _EXTRA_CHARS] = np.log1p(np.maximum(lens - len(prefix), 0.0))
        typed_words = len(prefix.split())
        trailing = 1 if prefix.endswith(" ") else 0
        n_words = np.fromiter((t.count(" ") + 1 for t in words), dtype=np.float64, count=len(words))
        x[rows, _EXTRA_WORDS] = n_words - typed_words + trailing

    def _finish_context(
        self, cs: CandidateSet, prefix: str, previous: Sequence[str], ks: ModelKeystroke | None
    ) -> None:
        """The features of every row that depend on the context: the model's, and how the
        candidate relates to the previous queries."""
        n = len(cs)
        if not n:
            return
        x = cs.matrix()
        if ks is not None:
            ids = np.array(cs.labels, dtype=np.int64)
            is_lab = ids >= 0
            if is_lab.any():
                x[is_lab, XMR_COLUMNS] = ks.features(ids[is_lab])
        if not previous:
            return
        if (j := cs.index(previous[-1])) is not None:
            x[j, _IS_PREV] = 1.0
        prev_words = {w for q in previous[-self.p.max_prev_queries :] for w in q.split()}
        if prev_words:
            skip = max(len(prefix.split()) - 1, 0)
            known = prev_words.__contains__
            shares = []
            for t in cs.texts:
                new = t.split()[skip:]
                shares.append(sum(map(known, new)) / len(new) if new else 0.0)
            x[:, _PREV_WORD_SHARE] = shares  # the column is 0 until here


def _repeats_a_word(text: str) -> bool:
    words = text.split()
    return len(set(words)) < len(words)
