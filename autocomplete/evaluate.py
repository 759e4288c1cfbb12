"""Offline evaluation: replay a log's test part through any `Ranker`, keystroke by keystroke."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from indexer.dataset import SplitSessions
from indexer.metrics import QualityReport
from indexer.sessions import Session

from .history import keystrokes, keystrokes_with_history
from .loader import LoadedIndex
from .ranking import Ranker

PARTS = ("train", "dev", "test", "all")


@dataclass(frozen=True)
class EvalResult:
    quality: dict[str, Any]
    examples: int
    seconds: float
    latency_us: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        return {
            "quality": self.quality,
            "examples": self.examples,
            "seconds": self.seconds,
            "examples_per_s": self.examples / self.seconds if self.seconds else 0.0,
            "latency_us": self.latency_us,
        }


def latency_summary(seconds: Sequence[float]) -> dict[str, float]:
    """p50 / p99 / mean of per-call times, in microseconds."""
    arr = np.asarray(seconds) * 1e6 if len(seconds) else np.zeros(1)
    return {
        "p50": float(np.percentile(arr, 50)),
        "p99": float(np.percentile(arr, 99)),
        "mean": float(arr.mean()),
    }


def evaluate(
    ranker: Ranker,
    sessions: Sequence[Session],
    is_label: Callable[[str], bool],
    k: int = 10,
    limit: int | None = None,
    progress: Callable[[int], None] | None = None,
    past: Sequence[Session] | None = None,
) -> EvalResult:
    """Score every proper prefix of every test query; times each `complete` call.

    With `past` (the sessions before the evaluated period), each user's history is replayed
    in time order into the context (`history.keystrokes_with_history`); without, every
    keystroke is an anonymous visitor's.
    """
    report = QualityReport(k)
    lat: list[float] = []
    n = 0
    stream = keystrokes(sessions) if past is None else keystrokes_with_history(past, sessions)
    t0 = time.perf_counter()
    clock = time.perf_counter
    for ex, ctx in stream:
        if limit is not None and n >= limit:
            break
        t = clock()
        items = ranker.complete(ctx, ex.prefix, k)
        lat.append(clock() - t)
        report.add(ex.prefix, ex.target, [c[0] for c in items], is_label(ex.target), not ex.context)
        n += 1
        if progress is not None and n % 1000 == 0:
            progress(1000)
    return EvalResult(report.to_dict(), n, time.perf_counter() - t0, latency_summary(lat))


def evaluate_part(
    idx: LoadedIndex,
    data: SplitSessions,
    part: str = "test",
    *,
    personal: bool = False,
    k: int = 10,
    limit: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> EvalResult:
    """`evaluate` the index's ranker on one part of a split log; "seen" targets are its labels.

    personal: the parts before `part` (train, dev, test in that order) are each user's past.
    """
    past = None
    if personal:
        order = PARTS[:3]
        before = order[: order.index(part)] if part in order else ()
        past = [s for p in before for s in data.part(p)]
    labels = idx.labels
    return evaluate(
        idx.ranker,
        data.part(part),
        lambda t: labels.id_of(t) >= 0,
        k=k,
        limit=limit,
        progress=progress,
        past=past,
    )


def keystroke_count(sessions: Sequence[Session], limit: int | None = None) -> int:
    """How many keystrokes `evaluate` scores on `sessions` (for progress bars)."""
    total = sum(len(q) - 1 for s in sessions for q in s.queries)
    return min(total, limit) if limit else total
