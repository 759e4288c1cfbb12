"""The learned ranker's file: boosted trees that correct the linear blend's scores.

`learned.json` holds, per mode ("anonymous", "personal"), a `trees.TreeEnsemble` over the
blend's candidate features followed by `KEYSTROKE_FEATURES` (the same for every candidate of
a keystroke, so they only matter through the trees' interactions). A candidate's score is its
linear score plus the trees' sum: the trees were fitted with the linear score as their
starting point (`autocomplete.fit_trees`).

Every candidate is scored on its own row alone, never relative to the others: so a source
the generator may skip when it cannot reach the top k (spelling corrections) still cannot,
and the ranking of the rest does not depend on which other candidates were gathered.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from .artifact import IndexFiles
from .errors import IndexFormatError
from .trees import TreeEnsemble
from .weights import MODES

FILE = "learned"
VERSION = 1
#: columns appended to a candidate's features for the trees: typed characters, and 1 for
#: the first query of a session (nothing searched before it in this session)
KEYSTROKE_FEATURES = ("prefix_len", "first_query")


def keystroke_rows(x: np.ndarray, prefix_len: int, first_query: bool) -> np.ndarray:
    """Candidate features with `KEYSTROKE_FEATURES` appended, as the trees read them."""
    out = np.empty((len(x), x.shape[1] + len(KEYSTROKE_FEATURES)))
    out[:, : x.shape[1]] = x
    out[:, -2] = prefix_len
    out[:, -1] = float(first_query)
    return out


@dataclass(frozen=True)
class LearnedRanking:
    """Trees per mode, each adding to the linear blend's score of every candidate."""

    trees: Mapping[str, TreeEnsemble]

    def to_json(self) -> dict[str, Any]:
        return {
            "version": VERSION,
            "trees": {mode: t.to_json() for mode, t in self.trees.items()},
        }

    @classmethod
    def from_json(cls, raw: object, where: object = FILE) -> LearnedRanking:
        if not isinstance(raw, dict) or raw.get("version") != VERSION:
            found = raw.get("version") if isinstance(raw, dict) else raw
            raise IndexFormatError(
                f"{where}: learned ranking version {found!r}, expected {VERSION}"
            )
        modes = raw.get("trees")
        if not isinstance(modes, dict) or set(modes) - set(MODES):
            raise IndexFormatError(f"{where}: 'trees' must map modes {MODES} to ensembles")
        trees = {m: TreeEnsemble.from_json(t, f"{where}: {m}") for m, t in modes.items()}
        return cls(trees)

    def save(self, files: IndexFiles, stats: dict[str, Any]) -> None:
        """Add the trees to a committed index (`IndexFiles.amend`), with the fit's stats."""
        files.amend(FILE, self.to_json(), {"learned_fit": stats})

    @classmethod
    def load(cls, files: IndexFiles) -> LearnedRanking | None:
        """The index's learned ranking, or None when it has none."""
        if not files.has(FILE):
            return None
        return cls.from_json(files.json(FILE), f"{files.path}/{FILE}.json")
