"""The blend's weights: one linear scorer per mode and prefix-length bucket, fitted at build.

`blend.json` holds weights[mode][bucket][feature name] for the two modes ("personal": the
user's history is known; "anonymous": it is not) and the buckets of `buckets.BUCKETS`. They
are fitted on the dev split when the index is built (`autocomplete.fit`) and stored by
feature name, so a feature added later starts at weight 0 instead of shifting old weights.
No weights are written in source: an index without `blend.json` serves its bare model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .artifact import IndexFiles
from .buckets import NAMES
from .errors import IndexFormatError

FILE = "blend"
VERSION = 1
MODES = ("anonymous", "personal")


@dataclass(frozen=True)
class BlendWeights:
    """weights[mode]: a (bucket x feature) matrix over `features`, by name."""

    features: tuple[str, ...]
    weights: Mapping[str, np.ndarray]

    def matrix(self, mode: str, features: Sequence[str]) -> np.ndarray:
        """The (bucket x feature) weights of `mode` in the column order of `features`; a
        feature these weights do not know gets 0, one `features` lacks is left out."""
        out = np.zeros((len(NAMES), len(features)))
        w = self.weights.get(mode)
        if w is None:
            return out
        col = {name: j for j, name in enumerate(self.features)}
        for j, name in enumerate(features):
            if name in col:
                out[:, j] = w[:, col[name]]
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "version": VERSION,
            "weights": {
                mode: {
                    b: {f: float(w[i, j]) for j, f in enumerate(self.features)}
                    for i, b in enumerate(NAMES)
                }
                for mode, w in self.weights.items()
            },
        }

    @classmethod
    def from_json(cls, raw: object, where: object = FILE) -> BlendWeights:
        if not isinstance(raw, dict) or raw.get("version") != VERSION:
            found = raw.get("version") if isinstance(raw, dict) else raw
            raise IndexFormatError(f"{where}: blend weights version {found!r}, expected {VERSION}")
        modes = raw.get("weights")
        if not isinstance(modes, dict):
            raise IndexFormatError(f"{where}: blend weights must be an object of modes")
        names: dict[str, None] = {}
        for mode, rows in modes.items():
            if mode not in MODES or not isinstance(rows, dict):
                raise IndexFormatError(f"{where}: unknown blend mode {mode!r}")
            for row in rows.values():
                if not isinstance(row, dict) or not all(
                    isinstance(v, int | float) and not isinstance(v, bool) for v in row.values()
                ):
                    raise IndexFormatError(f"{where}: blend weights must be numbers by name")
                names.update(dict.fromkeys(row))
        features = tuple(names)
        weights = {}
        for mode, rows in modes.items():
            w = np.zeros((len(NAMES), len(features)))
            for b, row in rows.items():
                if b in NAMES:
                    w[NAMES.index(b), [features.index(f) for f in row]] = list(row.values())
            weights[mode] = w
        return cls(features, weights)

    def save(self, files: IndexFiles, stats: dict[str, Any]) -> None:
        """Add the weights to a committed index (`IndexFiles.amend`), with the fit's stats."""
        files.amend(FILE, self.to_json(), {"blend_fit": stats})

    @classmethod
    def load(cls, files: IndexFiles) -> BlendWeights | None:
        """The index's fitted weights, or None when it has none."""
        if not files.has(FILE):
            return None
        return cls.from_json(files.json(FILE), f"{files.path}/{FILE}.json")
