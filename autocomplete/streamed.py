"""The full build with the streaming driver: `indexer.stream` for the index, then the blend.

`build-index --partitions N` (or `--scheduler`) runs this instead of `autocomplete.build`'s
`build_full`: the index comes from a driver that holds one bucket of users at a time
(`indexer.stream.build`), and the blend is fitted exactly as `build_full` fits it, on the
dev sessions with the training sessions of dev's users as their history: the only part of
the log this driver keeps in memory (`StreamedBuild.blend_data`; dev is a week of the log).
The fit reads only dev users' histories, so this is the whole training part as far as the
fit can tell, with one limit: the history store it replays into (`session_store.memory`)
evicts a user past `StoreConfig.max_users` (100,000) users or `user_ttl_s` (90 days) after
their last query, counted over every user it holds; a training part with more users than
that, or longer than that, may see other evictions here than in `build_full` (and so other
blend weights). The shared log (1,000 users, two months of training) is far inside both.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence

from autocomplete.model.artifact import IndexFiles
from indexer.freshfile import FreshFile
from indexer.params import BuildParams
from indexer.progress import Progress, ProgressLike
from indexer.report import BuildReport, peak_rss_mb
from indexer.stream.build import build_index_streamed
from indexer.stream.params import StreamParams
from indexer.xmr.cluster import ClusterParams

from .build import fit_blend
from .fit import FitParams


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
    built = build_index_streamed(logs, out, params, cluster, stream, report, fresh)
    if not params.blend:
        return built.report
    files = fit_blend(IndexFiles(out), built.blend_data, fit_params, report)
    return BuildReport(files.manifest, time.perf_counter() - t0, peak_rss_mb())
