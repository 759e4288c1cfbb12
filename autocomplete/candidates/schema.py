"""The blend's features: one name per column, and the set of candidates one keystroke gathers.

Every candidate source (`generator`) writes its columns of a candidate's row; the blend
(`autocomplete.blend`) scores a row as `row @ weights[mode][bucket]`, with weights stored by
these names (`autocomplete.model.weights`). A source that did not see a candidate leaves the
column at its empty value: 0, or `LOG_FLOOR` for the log-probabilities.
"""

from __future__ import annotations

import numpy as np

from autocomplete.xmr_ranker import FEATURES as XMR_FEATURES

FEATURES: tuple[str, ...] = (
    "bias_label",  # 1 for a training query (label)
    "bias_generated",  # 1 for a never-seen query made by generation
    "label_logp",  # log P(label | prefix) among labels extending the prefix
    "label_logcount",  # log(1 + count) of the label
    "trans_logp",  # log P(next = candidate | previous query), with add-one backoff
    "trans_any",  # log(1 + count) of transitions from older session queries
    "gen_logp",  # log P(ending | typed context) of the best generation route
    "gen_context",  # words of typed context the generation route matched (0..3)/3
    "in_session",  # candidate was issued earlier in this session
    "is_prev",  # candidate is the session's latest query (the log never repeats one at once)
    "prev_word_share",  # share of the completed words that occur in the previous queries
    "extra_words",  # words added beyond the typed prefix
    "extra_chars",  # log(1 + characters added)
    "hist_logcount",  # log(1 + times the user issued it before)
    "hist_recency",  # exp(-days since the user last issued it / 30)
    "hist_present",  # 1 when the candidate is in the user's history
    "hist_logp",  # log share of the user's history extending the prefix that is this query
    "hist_age",  # log(1 + hours since the user last issued it); 0 when not in the history
    "hist_rank",  # log(1 + the user's queries extending the prefix issued after it)
    "lm_total",  # log P(candidate) under the shared queries' word bigram model (`wordlm`)
    *XMR_FEATURES,  # the XR-Linear model's features of a label (0 without a model)
    "corrected",  # extends a spelling correction of the prefix, not the prefix
)
NF = len(FEATURES)
F = {name: i for i, name in enumerate(FEATURES)}
XMR_COLUMNS = slice(F[XMR_FEATURES[0]], F[XMR_FEATURES[-1]] + 1)

#: a candidate's label id not looked up yet (-1 is "not a label", as `LabelIndex.id_of` says)
UNKNOWN = -2
LOG_FLOOR = -12.0  # stands in for log(0) so weights stay finite
EMPTY_ROW = np.zeros(NF)
EMPTY_ROW[[F["label_logp"], F["trans_logp"], F["gen_logp"]]] = LOG_FLOOR
EMPTY_ROW.setflags(write=False)
#: the columns a prefix's own candidates fill whatever the context (`Block` keeps only these)
PREFIX_COLUMNS = np.array(
    [
        F[name]
        for name in (
            "bias_label",
            "bias_generated",
            "label_logp",
            "label_logcount",
            "gen_logp",
            "gen_context",
            "extra_words",
            "extra_chars",
            "lm_total",
            "corrected",
        )
    ]
)


class Block:
    """Candidates a prefix brings whatever the context, with their finished features.

    Built once per prefix by the generator and copied into each keystroke's `CandidateSet`
    (one array copy instead of a row per candidate). Only `PREFIX_COLUMNS` are kept: every
    other column of these rows is empty, and a block is remembered for many prefixes.
    """

    __slots__ = ("texts", "labels", "values", "known")

    def __init__(self, cs: CandidateSet) -> None:
        x = cs.matrix()
        self.texts: tuple[str, ...] = tuple(cs.texts)
        self.labels: tuple[int, ...] = tuple(cs.labels)
        self.values = np.ascontiguousarray(x[:, PREFIX_COLUMNS])
        self.values.setflags(write=False)
        #: rows that are known queries (labels) extending the prefix as typed
        self.known = int(
            np.count_nonzero((x[:, F["bias_label"]] > 0) & (x[:, F["corrected"]] == 0))
        )

    def __len__(self) -> int:
        return len(self.texts)


class CandidateSet:
    """Candidates (text -> feature row) gathered for one keystroke.

    Rows live in one growing float matrix; `row` hands out a row to fill in (valid until the
    next row is added: the matrix may move when it grows). A source that found a candidate by
    its label id says so (`row(text, label)`), so the features need not look the text up
    again (`labels`: the id, or `UNKNOWN`). `done[i]`: row i's prefix features (label,
    length) are final, as a `Block`'s rows are.
    """

    __slots__ = ("texts", "labels", "done", "_pos", "corrected", "_x", "_n")

    def __init__(self, capacity: int = 64) -> None:
        self.texts: list[str] = []
        self.labels: list[int] = []
        self.done: list[bool] = []
        self._pos: dict[str, int] = {}
        self._x = np.empty((max(capacity, 8), NF))
        self._n = 0
        #: text -> the spelling variant of the prefix it extends (typo candidates only)
        self.corrected: dict[str, str] = {}

    @classmethod
    def of(cls, block: Block) -> CandidateSet:
        """A set that starts with `block`'s candidates."""
        n = len(block)
        cs = cls(2 * n + 32)
        x = cs._x
        x[:n] = EMPTY_ROW
        x[:n, PREFIX_COLUMNS] = block.values
        cs._n = n
        cs.texts = list(block.texts)
        cs.labels = list(block.labels)
        cs.done = [True] * n
        cs._pos = {t: i for i, t in enumerate(cs.texts)}
        return cs

    def add_from(self, block: Block, i: int) -> None:
        """Append `block`'s candidate i (not in the set yet), finished."""
        j = self.add(block.texts[i], block.labels[i], EMPTY_ROW, True)
        self._x[j, PREFIX_COLUMNS] = block.values[i]

    def row(self, text: str, label: int = UNKNOWN) -> np.ndarray:
        i = self._pos.get(text)
        if i is not None:
            if label != UNKNOWN:
                self.labels[i] = label
            return self._x[i]
        i = self.add(text, label, EMPTY_ROW, False)  # first: the matrix may grow
        return self._x[i]

    def add(self, text: str, label: int, values: np.ndarray, done: bool) -> int:
        """Append a candidate not in the set yet with its whole row; returns its row."""
        i = self._n
        if i == len(self._x):
            self._x = np.concatenate([self._x, np.empty_like(self._x)])
        self._x[i] = values
        self._n = i + 1
        self._pos[text] = i
        self.texts.append(text)
        self.labels.append(label)
        self.done.append(done)
        return i

    def __contains__(self, text: str) -> bool:
        return text in self._pos

    def index(self, text: str) -> int | None:
        """The row of `text`, or None when it is not a candidate."""
        return self._pos.get(text)

    def __len__(self) -> int:
        return self._n

    def matrix(self) -> np.ndarray:
        """The feature matrix (candidates x FEATURES), a view the generator finishes in place."""
        return self._x[: self._n]
