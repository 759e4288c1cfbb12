"""The full build: the indexer's artifacts, then blend weights fitted on the dev split.

Fitting needs the runtime ranker (candidate generation reads the index as the server will),
so it lives on this side of the indexer/runtime boundary and amends the finished index.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence

from indexer.artifact import IndexFiles
from indexer.build import BuildReport, _peak_rss_mb, build_index
from indexer.dataset import load_split
from indexer.freshfile import FreshFile
from indexer.params import BuildParams
from indexer.sessions import Example

from .candidates import CandidateSet
from .loader import generator_for, load_model
from .personal import HistoryItems, examples_with_history
from .tuning import TuneParams, fit


def build_full(
    logs: Sequence[str | os.PathLike[str]],
    out: str | os.PathLike[str],
    params: BuildParams,
    progress: Callable[[str], None] | None = None,
    tune: TuneParams | None = None,
    fresh: Sequence[FreshFile] = (),
) -> BuildReport:
    """build-index as the CLI runs it. With `--all` the dev part is also training data, so
    the fitted weights see their own targets as labels: fine for a demo, not for evaluation.
    `fresh`: exported fresh counts folded into the label counts (`indexer.build.build_index`)."""
    say = progress or (lambda _m: None)
    t0 = time.perf_counter()
    say("reading log")
    data = load_split(logs, params.split, params.gap_s)
    report = build_index(logs, out, params, progress, data=data, fresh=fresh)
    if not params.blend:
        return report
    files = IndexFiles(out)
    gen = generator_for(files)
    model = load_model(files, gen.labels)

    def gather(ex: Example, hist: HistoryItems) -> CandidateSet:
        return gen.gather(ex.context, ex.prefix, hist, ex.time, model)

    say("fitting blend weights on dev")
    weights, stats = fit(lambda: examples_with_history(data.train, data.dev), gather, tune)
    files.amend("blend", weights.weights, {"blend_fit": stats})
    return BuildReport(files.manifest, time.perf_counter() - t0, _peak_rss_mb())
