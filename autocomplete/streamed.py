"""The full build with the streaming driver: `indexer.stream` for the index, then the blend.

`build-index --partitions N` (or `--scheduler`) runs this instead of `autocomplete.build`'s
`build_full`: the index comes from a driver that holds one bucket of users at a time
(`indexer.stream.build`), and the blend is fitted as `build_full` fits it, on the dev
sessions with each dev user's training history. The driver keeps the dev sessions (a week
of the log) and, per dev user, their history as the store holds it after their training
sessions (`history.seed_sessions`: at most `StoreConfig.user_history_size` queries a user),
not the sessions themselves: the fit reads no other user's history, so for the fit this is
the whole training part. Two limits, both of the store the fit replays into
(`session_store.memory`, one for every user): it evicts users past `StoreConfig.max_users`
(100,000) and histories `user_ttl_s` (90 days) old, and which it evicts depends on every
user it holds; a log with more users in training, or longer than that up to the end of
dev, may get other blend weights here than from `build_full`. The shared log (1,000 users,
68 days) is far inside both.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from autocomplete.model.artifact import IndexFiles
from indexer.dataset import SplitSessions
from indexer.freshfile import FreshFile
from indexer.params import BuildParams
from indexer.progress import Progress, ProgressLike
from indexer.report import BuildReport, peak_rss_mb
from indexer.stream.build import build_index_streamed
from indexer.stream.params import StreamParams
from indexer.xmr.cluster import ClusterParams

from .build import build_all, fit_blend
from .fit import FitParams
from .history import seed_sessions


def build_full_streamed(
    logs: Sequence[str | os.PathLike[str]],
    out: str | os.PathLike[str],
    params: BuildParams,
    cluster: ClusterParams | None,
    stream: StreamParams | None = None,
    progress: ProgressLike = None,
    fit_params: FitParams | None = None,
    fresh: Sequence[FreshFile] = (),
) -> BuildReport:
    """`autocomplete.build.build_full`'s index and blend, from the streaming driver.
    `cluster`: where the XR-Linear branches train (required for xmr); `stream`: how much
    of the log the driver holds (`indexer.stream.params.StreamParams`)."""
    report = Progress.of(progress)
    t0 = time.perf_counter()
    history = seed_sessions if params.blend else None
    if params.blend and params.use_all:  # fitted out of sample, as `build_full` does
        train_only = replace(params, use_all=False)

        def build_train_only(fit_index: Path) -> SplitSessions:
            built = build_index_streamed(
                logs, fit_index, train_only, cluster, stream, report, fresh, history
            )
            return built.blend_data

        def build_served() -> None:
            build_index_streamed(logs, out, params, cluster, stream, report, fresh, None)

        files = build_all(out, build_train_only, build_served, fit_params, report)
        return BuildReport(files.manifest, time.perf_counter() - t0, peak_rss_mb())
    built = build_index_streamed(logs, out, params, cluster, stream, report, fresh, history)
    if not params.blend:
        return built.report
    files = fit_blend(IndexFiles(out), built.blend_data, fit_params, report)
    return BuildReport(files.manifest, time.perf_counter() - t0, peak_rss_mb())
