"""Build settings, typed and frozen; written into the index manifest so a build is reproducible."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

from .kanon import KAnonParams
from .sessions import DEFAULT_GAP_S, TimeSplit
from .xmr.params import XMRParams

MODELS = ("mpc", "xmr")


@dataclass(frozen=True)
class BuildParams:
    """How `autocomplete build-index` turns a log into an index.

    model: "mpc" (most popular completion only) or "xmr" (session-aware ranker; falls back
        to MPC where it cannot answer).
    min_count: a training query becomes a label when it occurs at least this often (>= 1).
    gap_s: two queries of a user belong to one session when at most this many seconds apart.
    split: the time split; only the "train" part builds the index (dev tunes, test evaluates).
    use_all: build from every event of the logs (ignore the split); for serving, not evaluating.
    heavy_threshold: prefixes with more labels than this get their MPC top-k precomputed.
    heavy_k: how many completions are precomputed per heavy prefix (>= the largest k served).
    blend: fit the blended ranker (labels + transitions + generated completions + personal
        history, one learned scorer) on the dev split and serve it; False serves the bare model.
    kanon: what strangers may see (`indexer.kanon.KAnonParams`): the distinct users a query,
        ending or transition needs before it is shared, and the per-user, per-day bounds on
        counts. `KAnonParams.off()` shares every training query, as research indexes do.
    """

    model: str = "mpc"
    min_count: int = 1
    gap_s: float = DEFAULT_GAP_S
    split: TimeSplit = field(default_factory=TimeSplit)
    use_all: bool = False
    heavy_threshold: int = 256
    heavy_k: int = 64
    xmr: XMRParams = field(default_factory=XMRParams)
    blend: bool = True
    kanon: KAnonParams = field(default_factory=KAnonParams)

    def __post_init__(self) -> None:
        if self.model not in MODELS:
            raise ValueError(f"model must be one of {MODELS}, got {self.model!r}")
        if self.min_count < 1:
            raise ValueError(f"min_count must be >= 1, got {self.min_count}")
        if self.gap_s <= 0:
            raise ValueError(f"gap_s must be > 0, got {self.gap_s}")
        if self.heavy_k < 10:
            raise ValueError("heavy_k must be >= 10 (the default k)")

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["split"] = {k: v.isoformat() for k, v in asdict(self.split).items()}
        d["xmr"] = self.xmr.to_json()
        d["kanon"] = self.kanon.to_json()
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> BuildParams:
        d = dict(d)
        sp = d.pop("split", {})
        split = TimeSplit(**{k: date.fromisoformat(v) for k, v in sp.items()})
        xmr = XMRParams.from_json(d.pop("xmr", None))
        kanon = KAnonParams.from_json(d.pop("kanon", None))
        known = {f for f in cls.__dataclass_fields__}
        return cls(split=split, xmr=xmr, kanon=kanon, **{k: v for k, v in d.items() if k in known})
