"""build-index: a query log in, a verified index directory out."""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from autocomplete.model.artifact import IndexWriter
from autocomplete.model.labels import ENDINGS, LABELS, TRANSITIONS, LabelTable
from autocomplete.model.wordlm import WordLM

from .dataset import SplitSessions, load_split
from .errors import LogFormatError
from .freshfile import FreshFile, fold_files
from .kanon import bound_contributions, kanon_stats, shared_lm_counts, shared_texts
from .params import BuildParams
from .periods import period
from .progress import Progress, ProgressLike
from .report import BuildReport, peak_rss_mb
from .sessions import pairs
from .tables import endings_table, transitions_table

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
        shared = shared_texts(train_pairs, params.kanon.min_users)
        ph.finish(
            f"{len(train_pairs)} of {len(logged_pairs)} training queries counted; "
            f"{'every query' if shared.queries is None else len(shared.queries)} shared "
            f"(>= {params.kanon.min_users} users each)"
        )
    with report.phase("labels") as ph:
        query_counts = Counter(q for _, q, _, _ in train_pairs)
        extra_counts = fold_files(fresh)
        labels = LabelTable.from_queries(
            (q for _, q, _, _ in train_pairs if shared.shows_query(q)),
            params.min_count,
            shared.shown_counts(extra_counts),
        )
        if not labels.texts:
            raise LogFormatError(
                f"no query occurs >= {params.min_count} times from >= {params.kanon.min_users} "
                "users in training; lower --min-count or --min-users"
            )
        model_pairs = shared.hide_transitions(train_pairs)
        ph.finish(f"{len(labels.texts)} labels from {len(train_pairs)} training queries")
    w = IndexWriter(Path(out))
    try:
        with report.phase("tables", total=4) as ph:
            endings = endings_table(query_counts, shown=shared.endings)
            transitions = transitions_table((p, q) for p, q, _, _ in model_pairs)
            for name, table in ((LABELS, labels), (ENDINGS, endings), (TRANSITIONS, transitions)):
                table.save(
                    w, heavy_threshold=params.heavy_threshold, heavy_k=params.heavy_k, name=name
                )
                ph.advance()
            lm = WordLM.of_counts(*shared_lm_counts(train_pairs, params.kanon.min_users))
            lm.save(w, labels.texts)
            ph.advance()
            ph.finish(
                f"{len(endings.texts)} endings, {len(transitions.texts)} transitions, "
                f"{len(lm.bigrams)} word bigrams"
            )
        extra: dict[str, Any] = {}
        if params.model == "xmr" and cluster is not None:
            from .xmr.partition import build_xmr_partitioned

            extra = build_xmr_partitioned(
                w, labels, model_pairs, params.xmr, cluster, Path(out), report
            )
        elif params.model == "xmr":
            from .xmr.build import build_xmr  # heavy imports only when asked for

            extra = build_xmr(w, labels, model_pairs, params.xmr, report)
        label_set = set(labels.texts)
        dev_q = [q for _, q, _, _ in pairs(data.dev)]
        stats: dict[str, Any] = {
            "reader": {k: v for k, v in vars(data.stats).items() if k != "malformed_examples"},
            "train_sessions": len(train),
            "train_queries": len(train_pairs),
            "dev_queries": len(dev_q),
            "dev_label_coverage": (sum(q in label_set for q in dev_q) / len(dev_q))
            if dev_q
            else None,
            "periods": {"train": period(train), "dev": period(data.dev)},
            "kanon": kanon_stats(
                shared,
                len(logged_pairs),
                train_pairs,
                label_set,
                endings=len(endings.texts),
                transitions=len(transitions.texts),
            ),
            **extra,
        }
        if fresh:
            stats["fresh"] = {
                "files": [f.summary() for f in fresh],
                "queries": len(extra_counts),
                "new_labels": sum(q in label_set and q not in query_counts for q in extra_counts),
                "added_count": int(sum(extra_counts.values())),
            }
        with report.phase("writing") as ph:
            manifest = w.commit(
                model=params.model,
                label_count=len(labels.texts),
                build_params=params.to_json(),
                stats=stats,
            )
            ph.finish(f"{len(manifest['files'])} files with their checksums -> {out}")
    except BaseException:
        w.abort()
        raise
    return BuildReport(manifest, time.perf_counter() - t0, peak_rss_mb())
