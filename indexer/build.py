"""build-index: a query log in, a verified index directory out."""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from autocomplete.model.artifact import IndexWriter
from autocomplete.model.labels import LabelTable

from .counts import TrainCounts
from .dataset import SplitSessions, load_split
from .errors import LogFormatError
from .freshfile import FreshFile
from .kanon import SharedCounts, bound_contributions, kanon_summary, shared_counts
from .params import BuildParams
from .periods import period
from .progress import Progress, ProgressLike
from .publish import LogFacts, publish
from .report import BuildReport, peak_rss_mb
from .sessions import pairs

if TYPE_CHECKING:
    from .xmr.cluster import ClusterParams


def build_index(
    logs: Sequence[str | os.PathLike[str]],
    out: str | os.PathLike[str],
    params: BuildParams,
    progress: ProgressLike = None,
    data: SplitSessions | None = None,
    fresh: Sequence[FreshFile] = (),
    cluster: ClusterParams | None = None,
) -> BuildReport:
    """Build the index for `params.model` from the training part of `logs` into `out`.

    Only what strangers may see goes in (`indexer.kanon`, `params.kanon`): the training
    pairs are first bounded per user and day, then every shared table (labels, endings,
    transitions, and the XR-Linear model's examples and vocabulary, which come from the
    labels) keeps the texts at least `params.kanon.min_users` distinct users issued. The
    manifest's `stats.kanon` says how many were kept and dropped.

    `fresh`: exported fresh counts (`indexer.freshfile`) added to the training label counts
    before `params.min_count` applies; the manifest's `stats.fresh` records each file's
    sha256 and row count. Only the label table gains them (not endings or transitions:
    a fresh count says nothing about which query came before it). A fresh file names no
    users, so with `min_users` > 1 it only adds to queries the log already shares.

    The manifest's `stats.periods` records the first and last event time of the training
    and dev parts (`indexer.periods`), so an evaluation can tell it is scoring queries the
    index was built from. `progress` reports each phase (`indexer.progress`).

    `cluster`: None trains the XR-Linear model in this process (and its `--xmr-workers`
    forks); otherwise one Dask task per top-level branch (`indexer.xmr.partition`), which
    writes the same files in the same format. Ignored for an mpc index.
    """
    report = Progress.of(progress)
    t0 = time.perf_counter()
    if data is None:
        data = load_split(logs, params.split, params.gap_s, report)
    train = data.part("all") if params.use_all else data.train
    if not train:
        raise LogFormatError(
            "no training sessions before the dev split date; check --split / --all"
        )
    with report.phase("k-anonymity") as ph:
        logged_pairs = list(pairs(train))
        train_pairs = bound_contributions(logged_pairs, params.kanon)
        counts = TrainCounts.of(len(logged_pairs), train_pairs)
        del logged_pairs
        shared = shared_counts(counts, params.kanon.min_users)
        del counts
        ph.finish(kanon_summary(shared))

    def model(w: IndexWriter, labels: LabelTable, shared: SharedCounts) -> dict[str, Any]:
        model_pairs = shared.texts.hide_transitions(train_pairs)
        if params.model == "xmr" and cluster is not None:
            from .xmr.partition import build_xmr_partitioned

            return build_xmr_partitioned(
                w, labels, model_pairs, params.xmr, cluster, Path(out), report
            )
        if params.model == "xmr":
            from .xmr.build import build_xmr  # heavy imports only when asked for

            return build_xmr(w, labels, model_pairs, params.xmr, report)
        return {}

    facts = LogFacts(
        data.stats,
        len(train),
        {"train": period(train), "dev": period(data.dev)},
        Counter(q for _, q, _, _ in pairs(data.dev)),
    )
    manifest = publish(out, params, shared, facts, model, fresh, report)
    return BuildReport(manifest, time.perf_counter() - t0, peak_rss_mb())
