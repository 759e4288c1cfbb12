"""From training counts to a written index: labels, shared tables, the model, the manifest.

Both builds end here. The in-memory build (`indexer.build.build_index`) counts the whole
list of training pairs; the streaming build (`indexer.stream.build`) counts a log bucket by
bucket of users and adds the counts up on disk. Either way the index is a function of the
same `SharedCounts` and what the model step writes, so the two builds' tables cannot drift
apart: there is one place that turns counts into tables.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autocomplete.model.artifact import IndexWriter
from autocomplete.model.labels import ENDINGS, LABELS, TRANSITIONS, LabelTable
from autocomplete.model.wordlm import WordLM

from .errors import LogFormatError
from .freshfile import FreshFile, fold_files
from .kanon import SharedCounts, kanon_stats
from .params import BuildParams
from .progress import Progress, ProgressLike
from .querylog import ReadStats

#: writes the model's files (nothing for mpc) and returns the manifest's stats for it
ModelStep = Callable[[IndexWriter, LabelTable, SharedCounts], Mapping[str, Any]]


@dataclass(frozen=True)
class LogFacts:
    """What the manifest records about the log beside the counts.

    reader: what the log reader saw and skipped.
    train_sessions: sessions in the training part (every part with `use_all`).
    periods: "train" and "dev" spans (`indexer.periods.period`), None for an empty part.
    dev_queries: how often each query occurs in the dev part's sessions.
    """

    reader: ReadStats
    train_sessions: int
    periods: Mapping[str, dict[str, str] | None]
    dev_queries: Counter[str]


def label_table(shared: SharedCounts, min_count: int, extra: Mapping[str, int]) -> LabelTable:
    """The labels: shown training queries counted as the bounds allow, plus `extra` (fresh
    counts) on shown queries, at least `min_count` in all."""
    counts: Counter[str] = Counter(shared.queries)
    counts.update(shared.texts.shown_counts(extra))
    return LabelTable.from_queries((), min_count, counts)


def publish(
    out: str | os.PathLike[str],
    params: BuildParams,
    shared: SharedCounts,
    facts: LogFacts,
    model: ModelStep,
    fresh: Sequence[FreshFile] = (),
    progress: ProgressLike = None,
) -> dict[str, Any]:
    """Write the index of what `shared` counts into `out` and return its manifest.

    progress: the phases "labels", "tables" (4 steps, the word model last), whatever `model`
    reports, "writing".
    Raises `LogFormatError` when no query makes a label; nothing is left at `out` then.
    """
    report = Progress.of(progress)
    with report.phase("labels") as ph:
        extra_counts = fold_files(fresh)
        labels = label_table(shared, params.min_count, extra_counts)
        if not labels.texts:
            raise LogFormatError(
                f"no query occurs >= {params.min_count} times from >= {params.kanon.min_users} "
                "users in training; lower --min-count or --min-users"
            )
        ph.finish(f"{len(labels.texts)} labels from {shared.counted} training queries")
    w = IndexWriter(Path(out))
    try:
        with report.phase("tables", total=4) as ph:
            # the shown keys' counts are the tables: `tables.endings_table` and
            # `tables.transitions_table` over the pairs, restricted to what is shown
            endings = LabelTable.from_queries((), 1, shared.endings)
            transitions = LabelTable.from_queries((), 1, shared.transitions)
            for name, table in ((LABELS, labels), (ENDINGS, endings), (TRANSITIONS, transitions)):
                table.save(
                    w, heavy_threshold=params.heavy_threshold, heavy_k=params.heavy_k, name=name
                )
                ph.advance()
            lm = WordLM.of_counts(Counter(shared.words), Counter(shared.bigrams))
            lm.save(w, labels.texts)
            ph.advance()
            ph.finish(
                f"{len(endings.texts)} endings, {len(transitions.texts)} transitions, "
                f"{len(lm.bigrams)} word pairs"
            )
        extra = dict(model(w, labels, shared))
        label_set = set(labels.texts)
        dev_n = sum(facts.dev_queries.values())
        stats: dict[str, Any] = {
            "reader": {k: v for k, v in vars(facts.reader).items() if k != "malformed_examples"},
            "train_sessions": facts.train_sessions,
            "train_queries": shared.counted,
            "dev_queries": dev_n,
            "dev_label_coverage": (
                sum(n for q, n in facts.dev_queries.items() if q in label_set) / dev_n
            )
            if dev_n
            else None,
            "periods": dict(facts.periods),
            "kanon": kanon_stats(
                shared,
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
                "new_labels": sum(q in label_set and q not in shared.queries for q in extra_counts),
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
    return manifest
