"""Offline evaluation: replay the test part of a log through any `Ranker`, keystroke by keystroke."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from indexer.metrics import QualityReport
from indexer.sessions import Example, Session, examples

from .ranking import Ranker


@dataclass(frozen=True)
class EvalResult:
    quality: dict[str, Any]
    examples: int
    seconds: float
    latency_us: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        return {"quality": self.quality, "examples": self.examples, "seconds": self.seconds,
                "examples_per_s": self.examples / self.seconds if self.seconds else 0.0,
                "latency_us": self.latency_us}


def evaluate(
    ranker: Ranker,
    sessions: Sequence[Session],
    is_label: Callable[[str], bool],
    k: int = 10,
    limit: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> EvalResult:
    """Score every proper prefix of every test query; times each `complete` call."""
    report = QualityReport(k)
    lat: list[float] = []
    n = 0
    exs: Iterable[Example] = examples(sessions)
    t0 = time.perf_counter()
    clock = time.perf_counter
    for ex in exs:
        if limit is not None and n >= limit:
            break
        t = clock()
        items = ranker.complete(ex.context, ex.prefix, k)
        lat.append(clock() - t)
        report.add(ex.prefix, ex.target, [c[0] for c in items], is_label(ex.target))
        n += 1
        if progress is not None and n % 1000 == 0:
            progress(1000)
    secs = time.perf_counter() - t0
    arr = np.asarray(lat) * 1e6 if lat else np.zeros(1)
    latency = {"p50": float(np.percentile(arr, 50)), "p99": float(np.percentile(arr, 99)),
               "mean": float(arr.mean())}
    return EvalResult(report.to_dict(), n, secs, latency)
