"""The streaming build: the in-memory build's index, holding one bucket of users at a time.

Three passes, each bounded by `StreamParams` rather than by the log:

1. read the log once, `chunk_rows` events at a time, into buckets of users on disk
   (`stream.events`);
2. per bucket: sessionise (`stream.sessions`), bound each user's contributions
   (`kanon.counted_mask`), count what the tables need (`indexer.counts.TrainCounts`) into
   shards by key on disk (`stream.shards`), and write the counted training pairs with their
   place in the log (`stream.pairs`);
3. add the shards up key by key and keep what strangers may see, with its counts
   (`kanon.SharedCounts`), write the tables (`indexer.publish`, as the in-memory build
   does) and, for XR-Linear, merge the buckets' pairs back in log order, hide what
   k-anonymity hides, and stream them into the partitioned build's per-branch files
   (`indexer.xmr.partition.train_partitioned`).

What stays in memory: one bucket of users at a time; the shown texts' counts (the labels,
endings and transitions the index holds anyway); the dev sessions (a week of the log); and
what `history` keeps of the training sessions of dev's users, which the blend's fit replays
as their history (`StreamedBuild.blend_data`; `autocomplete.streamed` keeps each user's
history as the store would hold it, at most `StoreConfig.user_history_size` queries).
Nothing holds the training sessions or pairs of the whole log.
"""

from __future__ import annotations

import math
import os
import shutil
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from autocomplete.model.artifact import IndexWriter
from autocomplete.model.labels import LabelTable

from ..counts import TrainCounts, label_transitions
from ..dataset import SplitSessions
from ..errors import LogFormatError
from ..freshfile import FreshFile
from ..kanon import SharedCounts, counted_mask, kanon_summary
from ..params import BuildParams
from ..periods import Period, period
from ..progress import Progress, ProgressLike
from ..publish import LogFacts, publish
from ..report import BuildReport, peak_rss_mb
from ..sessions import Session
from ..xmr.cluster import ClusterParams
from .events import PARTS, bucket_events, read_bucket, write_buckets
from .pairs import merged_pairs, pairs_path, write_pairs
from .params import StreamParams
from .sessions import NumberedSession, bucket_sessions, numbered_pairs
from .shards import ShardWriter, shared_from_shards

STREAM_DIR = "stream"
#: what to keep of one bucket's training sessions of dev's users, for the blend's fit
History = Callable[[Sequence[Session]], list[Session]]
_TRAIN, _DEV = PARTS.index("train"), PARTS.index("dev")


@dataclass(frozen=True)
class StreamedBuild:
    """The build's report, and what the blend's fit needs of the log (`fit_blend`): the dev
    sessions in log order, and as `train` what `history` kept of the training sessions of
    the users who have dev sessions (the fit reads no other user's history)."""

    report: BuildReport
    blend_data: SplitSessions


@dataclass
class _Tally:
    """What the bucket pass keeps across buckets."""

    train_sessions: int = 0
    first: float = math.inf
    last: float = -math.inf
    dev: list[NumberedSession] = field(default_factory=list)
    past: list[Session] = field(default_factory=list)
    largest_bucket: int = 0

    def add_train(self, sessions: Sequence[NumberedSession]) -> None:
        self.train_sessions += len(sessions)
        for ns in sessions:
            self.first = min(self.first, min(ns.session.times))
            self.last = max(self.last, max(ns.session.times))

    def train_period(self) -> dict[str, str] | None:
        return Period(self.first, self.last).to_json() if self.train_sessions else None


def build_index_streamed(
    logs: Sequence[str | os.PathLike[str]],
    out: str | os.PathLike[str],
    params: BuildParams,
    cluster: ClusterParams | None = None,
    stream: StreamParams | None = None,
    progress: ProgressLike = None,
    fresh: Sequence[FreshFile] = (),
    history: History | None = None,
) -> StreamedBuild:
    """`indexer.build.build_index` with a driver of bounded memory: the same files.

    cluster: where the XR-Linear branches train (required for `params.model == "xmr"`: the
        single-process trainer needs every pair in memory); for mpc only its work directory
        is used. The buckets go to `<work>/stream` and are removed after the build.
    history: given each bucket's training sessions of users with dev sessions (in log
        order), what to keep of them for `blend_data.train`; None keeps nothing (no blend
        fit to come).
    progress: the phases "reading log", "sessions" (one step per bucket), "k-anonymity",
    then `publish`'s and the partitioned build's.
    """
    if params.model == "xmr" and cluster is None:
        raise ValueError("the streaming build trains XR-Linear as partitioned tasks: give cluster")
    sp_ = stream or StreamParams()
    report = Progress.of(progress)
    t0 = time.perf_counter()
    out = Path(out)
    cp = cluster or ClusterParams()
    work = cp.work_path(out)
    made_work = not work.exists()
    tmp = work / STREAM_DIR
    keep = PARTS if params.use_all else ("train", "dev")
    try:
        log = write_buckets(logs, tmp, params.split, keep, sp_.buckets, sp_.chunk_rows, report)
        shards = ShardWriter(tmp, sp_.buckets)
        try:
            tally = _count_buckets(log.files, params, sp_, tmp, shards, history, report)
        finally:
            shards.close()
        if tally.train_sessions == 0:
            raise LogFormatError(
                "no training sessions before the dev split date; check --split / --all"
            )
        with report.phase("k-anonymity") as ph:
            shared = shared_from_shards(
                tmp, sp_.buckets, params.kanon.min_users, shards.logged, shards.counted
            )
            ph.finish(kanon_summary(shared))
        # Arrow's allocator keeps what the passes freed for itself; the blend fit to come
        # allocates through Python and numpy, which cannot reuse it
        pa.default_memory_pool().release_unused()
        files = [pairs_path(tmp, b) for b in range(sp_.buckets)]
        stream_stats = {
            **sp_.to_json(),
            "largest_bucket_events": tally.largest_bucket,
            "driver_peak_rss_mb": 0.0,
        }

        def model(w: IndexWriter, labels: LabelTable, shared: SharedCounts) -> dict[str, Any]:
            extra: dict[str, Any] = {}
            if params.model == "xmr":
                extra = _train_xmr(w, labels, shared, files, params, cp, out, sp_, report)
            stream_stats["driver_peak_rss_mb"] = round(peak_rss_mb(), 1)
            return {**extra, "stream": stream_stats}

        dev = [ns.session for ns in sorted(tally.dev, key=lambda ns: ns.order)]
        facts = LogFacts(
            log.stats,
            tally.train_sessions,
            {"train": tally.train_period(), "dev": period(dev)},
            Counter(q for s in dev for q in s.queries),
        )
        manifest = publish(out, params, shared, facts, model, fresh, report)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if made_work and not cp.keep_parts and work.is_dir() and not any(work.iterdir()):
            work.rmdir()
    return StreamedBuild(
        BuildReport(manifest, time.perf_counter() - t0, peak_rss_mb()),
        SplitSessions(tally.past, dev, [], log.stats),
    )


def _count_buckets(
    files: Sequence[Path],
    params: BuildParams,
    sp_: StreamParams,
    tmp: Path,
    shards: ShardWriter,
    history: History | None,
    report: Progress,
) -> _Tally:
    """The bucket pass: sessions, bounds, each bucket's counts to `shards`, and (for
    XR-Linear) each bucket's counted pairs on disk."""
    tally = _Tally()
    train_parts = set(range(len(PARTS))) if params.use_all else {_TRAIN}
    with report.phase("sessions", total=len(files)) as ph:
        for b, path in enumerate(files):
            tally.largest_bucket = max(tally.largest_bucket, bucket_events(path))
            sessions = list(bucket_sessions(read_bucket(path), params.gap_s))
            path.unlink()
            train = [ns for ns in sessions if ns.part in train_parts]
            dev = [ns for ns in sessions if ns.part == _DEV]
            dev_users = {ns.session.user for ns in dev}
            tally.dev += dev
            if history is not None:
                past = [ns for ns in sessions if ns.part == _TRAIN and ns.session.user in dev_users]
                past.sort(key=lambda ns: ns.order)
                tally.past += history([ns.session for ns in past])
                del past
            tally.add_train(train)
            del sessions
            numbered = list(numbered_pairs(train))
            del train
            pairs = [p for _, p in numbered]
            kept = list(counted_mask(pairs, params.kanon))
            counted = [p for p, k in zip(pairs, kept, strict=True) if k]
            shards.add(TrainCounts.of(len(pairs), counted))
            if params.model == "xmr":
                ordered = (
                    (order, p[0], p[1]) for (order, p), k in zip(numbered, kept, strict=True) if k
                )
                write_pairs(pairs_path(tmp, b), ordered, sp_.chunk_rows)
            ph.advance()
        ph.finish(
            f"{tally.train_sessions} training sessions, {len(tally.dev)} dev sessions; "
            f"{shards.counted} of {shards.logged} training queries counted"
        )
    return tally


def _train_xmr(
    w: IndexWriter,
    labels: LabelTable,
    shared: SharedCounts,
    files: Sequence[Path],
    params: BuildParams,
    cp: ClusterParams,
    out: Path,
    sp_: StreamParams,
    report: Progress,
) -> dict[str, Any]:
    """The partitioned XR-Linear build over the buckets' pairs, merged back in log order,
    each q_prev blanked where k-anonymity hides the transition (`SharedTexts.hide_transitions`)."""
    from ..xmr.examples import numbered_contexts  # heavy imports only when asked for
    from ..xmr.partition import PairSource, train_partitioned

    texts = shared.texts
    pairs = ((texts.shown_prev(prev, q), q) for prev, q in merged_pairs(files, sp_.chunk_rows))
    source = PairSource(
        numbered_contexts(pairs, params.xmr.featurizer.context_window),
        shared.queries,
        lambda labels: label_transitions(shared.transitions, labels),
    )
    return train_partitioned(w, labels, source, params.xmr, cp, out, report)
