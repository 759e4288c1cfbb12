"""The full build: the indexer's artifacts, then blend weights fitted on the dev split.

Fitting needs the runtime ranker (candidate generation reads the index as the server will),
so it lives on this side of the indexer/runtime boundary and adds the weights to the
finished index (`BlendWeights.save`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence

from autocomplete.model.artifact import IndexFiles
from autocomplete.model.labels import LabelIndex
from indexer.build import build_index
from indexer.dataset import SplitSessions, load_split
from indexer.freshfile import FreshFile
from indexer.params import BuildParams
from indexer.progress import Progress, ProgressLike
from indexer.report import BuildReport, peak_rss_mb
from indexer.xmr.cluster import ClusterParams

from .candidates.schema import CandidateSet
from .fit import FitParams, fit
from .history import keystrokes, keystrokes_with_history
from .loader import generator_for, load_model
from .ranking import Context


def build_full(
    logs: Sequence[str | os.PathLike[str]],
    out: str | os.PathLike[str],
    params: BuildParams,
    progress: ProgressLike = None,
    fit_params: FitParams | None = None,
    fresh: Sequence[FreshFile] = (),
    cluster: ClusterParams | None = None,
) -> BuildReport:
    """build-index as the CLI runs it. With `--all` the dev part is also training data, so
    the fitted weights see their own targets as labels: fine for a demo, not for evaluation.
    `fresh`: exported fresh counts folded into the label counts (`indexer.build.build_index`).
    `cluster`: train the XR-Linear branches as Dask tasks (`indexer.xmr.cluster`).
    `progress`: the indexer's phases (`indexer.progress`), then "blend fit"."""
    report = Progress.of(progress)
    t0 = time.perf_counter()
    data = load_split(logs, params.split, params.gap_s, report)
    built = build_index(logs, out, params, report, data=data, fresh=fresh, cluster=cluster)
    if not params.blend:
        return built
    files = fit_blend(IndexFiles(out), data, fit_params, report)
    return BuildReport(files.manifest, time.perf_counter() - t0, peak_rss_mb())


def fit_blend(
    files: IndexFiles,
    data: SplitSessions,
    fit_params: FitParams | None = None,
    progress: ProgressLike = None,
) -> IndexFiles:
    """Fit the blend over a built index's candidate sources on `data.dev` (with `data.train`
    as the users' past) and add the weights to the index; returns the amended index.
    `progress`: the phase "blend fit", one step per mode (personal, anonymous)."""
    labels = LabelIndex.load(files)
    gen = generator_for(files, labels)
    model = load_model(files, labels)

    def gather(context: Context, prefix: str) -> CandidateSet:
        return gen.gather(context, prefix, model)

    with Progress.of(progress).phase("blend fit", total=2) as ph:
        personal = keystrokes_with_history(data.train, data.dev)
        weights, stats = fit(
            personal,
            keystrokes(data.dev),
            gather,
            fit_params,
            lambda mode: ph.advance(detail=f"{mode} weights fitted"),
        )
        weights.save(files, stats)
        ph.finish(
            f"on {stats['personal']['keystrokes']} dev keystrokes per mode "
            f"({len(data.dev)} sessions)"
        )
    return files
