"""The full build: the indexer's artifacts, then blend weights fitted on the dev split.

Fitting needs the runtime ranker (candidate generation reads the index as the server will),
so it lives on this side of the indexer/runtime boundary and adds the weights to the
finished index (`BlendWeights.save`).
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from autocomplete.model.artifact import IndexFiles
from autocomplete.model.labels import LabelIndex
from indexer.build import build_index
from indexer.dataset import SplitSessions, load_split
from indexer.errors import LogFormatError
from indexer.freshfile import FreshFile
from indexer.params import BuildParams
from indexer.progress import Progress, ProgressLike
from indexer.report import BuildReport, peak_rss_mb
from indexer.xmr.cluster import ClusterParams

from .candidates.schema import CandidateSet
from .fit import FitParams, Fitted, fit
from .history import keystrokes, keystrokes_with_history
from .loader import generator_for, load_model
from .ranking import Context

#: what the manifest's fit statistics say of an `--all` index's models
OUT_OF_SAMPLE = {"fitted_on": "train-only index, dev keystrokes (out of sample)"}


def build_full(
    logs: Sequence[str | os.PathLike[str]],
    out: str | os.PathLike[str],
    params: BuildParams,
    progress: ProgressLike = None,
    fit_params: FitParams | None = None,
    fresh: Sequence[FreshFile] = (),
    cluster: ClusterParams | None = None,
) -> BuildReport:
    """build-index as the CLI runs it: the index from the training part, then the blend (and
    the learned trees) fitted on the dev part over it.

    With `params.use_all` (`--all`, the production build) the served index is built from
    every event, but the models are still fitted out of sample: first on an index of the
    training part alone (in a temporary directory beside `out`), scoring dev keystrokes that
    index never saw; the served index then extends every table through the last event and
    keeps those fitted models. Fitting on an index that holds the dev part would teach the
    blend that every target is a known, popular label, and it would distrust generated
    completions where it serves queries nobody typed before.

    `fresh`: exported fresh counts folded into the label counts (`indexer.build.build_index`).
    `cluster`: train the XR-Linear branches as Dask tasks (`indexer.xmr.cluster`).
    `progress`: the indexer's phases (`indexer.progress`), then "blend fit"."""
    report = Progress.of(progress)
    t0 = time.perf_counter()
    data = load_split(logs, params.split, params.gap_s, report)
    if not params.blend:
        return build_index(logs, out, params, report, data=data, fresh=fresh, cluster=cluster)
    if not params.use_all:
        build_index(logs, out, params, report, data=data, fresh=fresh, cluster=cluster)
        files = fit_blend(IndexFiles(out), data, fit_params, report)
        return BuildReport(files.manifest, time.perf_counter() - t0, peak_rss_mb())
    require_dev(data)  # before the two builds, not after the first
    train_only = replace(params, use_all=False)

    def build_train_only(fit_index: Path) -> SplitSessions:
        build_index(logs, fit_index, train_only, report, data=data, fresh=fresh, cluster=cluster)
        return data

    def build_served() -> None:
        build_index(logs, out, params, report, data=data, fresh=fresh, cluster=cluster)

    files = build_all(out, build_train_only, build_served, fit_params, report)
    return BuildReport(files.manifest, time.perf_counter() - t0, peak_rss_mb())


def require_dev(data: SplitSessions) -> None:
    """`--all` fits out of sample on the dev part: a log without one is refused, never
    fitted in sample."""
    if not data.dev:
        raise LogFormatError(
            "--all fits the blend out of sample on the dev part, and the log has no events "
            "in it; check --split, or build with --no-blend"
        )


def build_all(
    out: str | os.PathLike[str],
    build_train_only: Callable[[Path], SplitSessions],
    build_served: Callable[[], None],
    fit_params: FitParams | None = None,
    progress: ProgressLike = None,
) -> IndexFiles:
    """An `--all` index, as both build drivers make it: the models fitted out of sample,
    then the served index of every event at `out` (`build_served()`), keeping them.

    `build_train_only(path)` builds an index of the training part at `path` (a temporary
    directory beside `out`, removed after) and returns the split sessions the fit reads;
    the fit scores their dev keystrokes over it."""
    parent = Path(out).resolve().parent
    parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".fit-", dir=parent) as tmp:
        fit_index = Path(tmp) / "train-only"
        data = build_train_only(fit_index)
        require_dev(data)
        fitted = fit_on(IndexFiles(fit_index), data, fit_params, progress)
    build_served()
    files = IndexFiles(out)
    save_fitted(files, fitted, OUT_OF_SAMPLE)
    return files


def fit_blend(
    files: IndexFiles,
    data: SplitSessions,
    fit_params: FitParams | None = None,
    progress: ProgressLike = None,
) -> IndexFiles:
    """Fit the blend over a built index's candidate sources on `data.dev` (with `data.train`
    as the users' past) and add the weights, and the learned ranker's trees unless
    `fit_params.trees` is None, to the index; returns the amended index."""
    save_fitted(files, fit_on(files, data, fit_params, progress))
    return files


def fit_on(
    files: IndexFiles,
    data: SplitSessions,
    fit_params: FitParams | None = None,
    progress: ProgressLike = None,
) -> Fitted:
    """The blend (and trees) fitted on `data.dev` keystrokes over the index `files`.
    `progress`: the phase "blend fit", one step per mode (personal, anonymous)."""
    labels = LabelIndex.load(files)
    gen = generator_for(files, labels)
    model = load_model(files, labels)

    def gather(context: Context, prefix: str) -> CandidateSet:
        return gen.gather(context, prefix, model)

    with Progress.of(progress).phase("blend fit", total=2) as ph:
        personal = keystrokes_with_history(data.train, data.dev)
        fitted = fit(
            personal,
            keystrokes(data.dev),
            gather,
            fit_params,
            lambda mode: ph.advance(detail=f"{mode} model fitted"),
        )
        ph.finish(
            f"on {fitted.stats['personal']['keystrokes']} dev keystrokes per mode "
            f"({len(data.dev)} sessions)"
        )
    return fitted


def save_fitted(files: IndexFiles, fitted: Fitted, note: dict[str, str] | None = None) -> None:
    """Add the fitted weights (and trees) to a committed index, with the fit's statistics."""
    stats: dict[str, Any] = {**fitted.stats, **(note or {})}
    fitted.weights.save(files, stats)
    if fitted.learned is not None:
        trees = {m: st.get("trees", {}) for m, st in fitted.stats.items()}
        fitted.learned.save(files, {**trees, **(note or {})})
