"""Offline evaluation: replay a log's test part through any `Ranker`, keystroke by keystroke."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from indexer.metrics import QualityReport
from indexer.sessions import Example, Session, examples

from .personal import HistoryItems, examples_with_history
from .ranking import Ranker


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

    With `past` (the sessions before the evaluated period), each user's personal history is
    replayed in time order and handed to rankers that take one (`supports_history`).
    """
    report = QualityReport(k)
    lat: list[float] = []
    n = 0
    personal = past is not None and getattr(ranker, "supports_history", False)
    stream: Iterable[tuple[Example, HistoryItems]] = (
        examples_with_history(past, sessions)
        if personal and past is not None
        else ((ex, ()) for ex in examples(sessions))
    )
    t0 = time.perf_counter()
    clock = time.perf_counter
    for ex, hist in stream:
        if limit is not None and n >= limit:
            break
        t = clock()
        if personal:
            items = ranker.complete(ex.context, ex.prefix, k, history=hist, now=ex.time)  # type: ignore[call-arg]
        else:
            items = ranker.complete(ex.context, ex.prefix, k)
        lat.append(clock() - t)
        report.add(ex.prefix, ex.target, [c[0] for c in items], is_label(ex.target))
        n += 1
        if progress is not None and n % 1000 == 0:
            progress(1000)
    secs = time.perf_counter() - t0
    arr = np.asarray(lat) * 1e6 if lat else np.zeros(1)
    latency = {
        "p50": float(np.percentile(arr, 50)),
        "p99": float(np.percentile(arr, 99)),
        "mean": float(arr.mean()),
    }
    return EvalResult(report.to_dict(), n, secs, latency)
