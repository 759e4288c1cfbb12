"""The partitioned XR-Linear build: one Dask task per top-level branch, assembled into one model.

What is global stays in the driver, once: the featuriser's vocabularies and IDF are learned
from the label texts (one document per label, which the driver holds after counting), and
the root level (root -> first characters) learns nothing from examples, since every typed
prefix fixes its first character; its scores are the popularity offsets, folded in over the
assembled tree. Everything else belongs to one branch (`indexer.xmr.branches`): the driver
streams the numbered training pairs to per-branch Parquet files (`indexer.xmr.parts`), and
each task (`train_branch`: a pure function of its input files, writing one part) generates
its examples, embeds and clusters its labels and trains its rankers, with the whole tree's
height and its global label offset, so the assembled model equals the single-process
build's (`indexer.xmr.build.learn_subtree` runs in both).
"""

from __future__ import annotations

import hashlib
import json
import os
import resource
import shutil
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from autocomplete.model.artifact import IndexFiles, IndexWriter
from autocomplete.model.featurizer import Featurizer
from autocomplete.model.labels import LabelTable
from autocomplete.model.session import SessionTables
from autocomplete.model.xmr import XMRModel

from ..errors import PartitionError
from ..progress import Progress, ProgressLike
from ..report import peak_rss_mb
from .branches import Branch, assemble_tree, assemble_weights, char_weights, plan_branches
from .build import learn_subtree, transitions, uses_prior
from .cluster import MALLOC_TRIM, ClusterParams, run_tasks
from .examples import Item, numbered_contexts
from .params import XMRParams
from .parts import (
    PairWriter,
    labels_path,
    pairs_path,
    part_path,
    read_labels,
    read_pairs,
    read_part,
    write_labels,
    write_part,
)
from .train import fold_priors
from .tree import tree_height, trie_leaf_sizes

FEATURIZER_DIR = "featurizer"


@dataclass(frozen=True)
class BranchTask:
    """Everything one branch task reads: its files in `work`, the settings, the height of
    the whole tree, and `key`, a digest of all of them (the part's name and Dask key)."""

    branch: Branch
    work: str
    params: XMRParams
    height: int
    key: str


@dataclass(frozen=True)
class BranchDone:
    """What a task reports: its part, the part's statistics, and what the run cost."""

    part: str
    stats: dict[str, Any]
    seconds: float
    peak_rss_mb: float
    reused: bool
    #: the worker's MALLOC_TRIM_THRESHOLD_, None when unset (`cluster.WORKER_ENVIRON`)
    malloc_trim_threshold: str | None = None


def train_branch(task: BranchTask) -> BranchDone:
    """Learn one branch from its files and write its part; idempotent: a part already
    written for the same inputs (same key) is kept as it is, and a re-run writes the same
    bytes."""
    t0 = time.perf_counter()
    work = Path(task.work)
    out = part_path(work, task.branch, task.key)
    if not out.exists():
        feat = Featurizer.load(IndexFiles(work / FEATURIZER_DIR))
        texts, counts = read_labels(labels_path(work, task.branch))
        items = read_pairs(pairs_path(work, task.branch))
        tree, weights, stats = learn_subtree(
            feat,
            texts,
            items,
            task.params,
            counts,
            height=task.height,
            label_offset=task.branch.lo,
        )
        learned = {k: stats[k] for k in ("examples", "levels", "weights_nnz")}
        write_part(out, tree, weights, learned)
        reused = False
    else:
        reused = True
    _, _, learned = read_part(out)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    trim = os.environ.get(MALLOC_TRIM)
    return BranchDone(str(out), learned, time.perf_counter() - t0, peak, reused, trim)


def _digest(*parts: object) -> str:
    h = hashlib.sha256()
    for p in parts:
        if isinstance(p, Path):
            with open(p, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    h.update(block)
        else:
            h.update(json.dumps(p, sort_keys=True, default=str).encode())
        h.update(b"\0")
    return h.hexdigest()[:16]


@dataclass(frozen=True)
class PairSource:
    """The training pairs as the partitioned build reads them, without holding a list.

    items: the numbered items (position in the whole pair stream, session context, q_next;
        `examples.numbered_contexts`) in stream order, read once.
    query_counts: how many pairs have each q_next (balances the branches).
    label_transitions: counts[prev label, next label] (`build.transitions`), given the
        sorted label texts.
    """

    items: Iterable[Item]
    query_counts: Mapping[str, int]
    label_transitions: Callable[[Sequence[str]], sp.csr_matrix]


def build_xmr_partitioned(
    w: IndexWriter,
    labels: LabelTable,
    train_pairs: list[tuple[str, str, str, float]],
    xp: XMRParams,
    cp: ClusterParams,
    out: Path,
    progress: ProgressLike = None,
) -> dict[str, Any]:
    """`build_xmr` with the branches trained as Dask tasks; the same files, the same format.

    `out` names the index (the work directory defaults to `<out>.parts` beside it).
    `progress`: the phases "XR-Linear partitioning", "XR-Linear branches" (one step per
    task), "XR-Linear assembly". Raises `PartitionError` for depth 0 (no trie level to
    split on) and for failed tasks.
    """
    window = xp.featurizer.context_window
    source = PairSource(
        numbered_contexts(((p, q) for p, q, _, _ in train_pairs), window),
        Counter(q for _, q, _, _ in train_pairs),
        lambda texts: transitions(train_pairs, texts),
    )
    return train_partitioned(w, labels, source, xp, cp, out, progress)


def train_partitioned(
    w: IndexWriter,
    labels: LabelTable,
    source: PairSource,
    xp: XMRParams,
    cp: ClusterParams,
    out: Path,
    progress: ProgressLike = None,
) -> dict[str, Any]:
    """`build_xmr_partitioned` from a `PairSource`: the streaming build
    (`indexer.stream.build`) feeds it pairs merged from disk, in the same order."""
    if xp.depth < 1:
        raise PartitionError("the partitioned build splits on the first trie level: depth >= 1")
    report = Progress.of(progress)
    t0 = time.perf_counter()
    texts = labels.texts
    counts = np.asarray(labels.counts, dtype=np.int64)
    work = cp.work_path(out)
    work.mkdir(parents=True, exist_ok=True)
    label_set = set(texts)
    with report.phase("XR-Linear partitioning") as ph:
        feat = Featurizer.fit(xp.featurizer, texts)
        fw = IndexWriter(work / FEATURIZER_DIR)
        feat.save(fw)
        fw.commit(model="featurizer", label_count=len(texts), build_params=xp.to_json())
        per_char = char_weights(source.query_counts, texts, xp.max_prefix_len)
        branches = plan_branches(texts, per_char, cp.partitions)
        height = tree_height(
            trie_leaf_sizes(list(texts), xp.depth), xp.depth, xp.branching, xp.max_leaf
        )
        write_labels(work, branches, texts, counts)
        writer = PairWriter(work, branches, label_set)
        writer.add(source.items)
        rows = writer.close()
        del label_set
        fdigest = IndexFiles(work / FEATURIZER_DIR).version
        tasks = [
            BranchTask(
                b,
                str(work),
                xp,
                height,
                _digest(
                    xp.to_json(),
                    height,
                    b,
                    fdigest,
                    labels_path(work, b),
                    pairs_path(work, b),
                ),
            )
            for b in branches
        ]
        ph.finish(
            f"{len(branches)} branches of {min(b.n_labels for b in branches)}-"
            f"{max(b.n_labels for b in branches)} labels, {sum(rows)} pairs -> {work}"
        )
    partition_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    done = run_tasks(
        cp,
        train_branch,
        tasks,
        [f"xmr-branch-{t.branch.index:04d}-{t.key}" for t in tasks],
        report,
        phase="XR-Linear branches",
    )
    tasks_s = time.perf_counter() - t1
    with report.phase("XR-Linear assembly") as ph:
        trees, branch_weights = [], []
        for d in done:
            tree_b, weights_b, _ = read_part(Path(d.part))
            trees.append(tree_b)
            branch_weights.append(weights_b)
        tree = assemble_tree(xp.depth, trees, [b.lo for b in branches])
        weights = assemble_weights(branch_weights, feat.dim)
        del trees, branch_weights
        if uses_prior(xp, counts):
            weights = fold_priors(weights, tree, counts, feat.bias_col)
        null = xp.loss == "softmax" and xp.null_class
        XMRModel.from_trained(feat, tree, weights, xp.combine, null).save(w)
        SessionTables(source.label_transitions(texts), feat.label_words(texts)).save(w)
        ph.finish(
            f"{len(done)} parts -> height {tree.height}, {sum(int(m.nnz) for m in weights)} weights"
        )
    if not cp.keep_parts:
        shutil.rmtree(work, ignore_errors=True)
    stats: dict[str, Any] = {
        "examples": sum(d.stats["examples"] for d in done),
        "features": feat.dim,
        "levels": [tree.level_size(level) for level in range(1, tree.height + 1)],
        "weights_nnz": [int(m.nnz) for m in weights],
        "build_s": round(time.perf_counter() - t0, 2),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "partition": {
            **cp.to_json(),
            "branches": [
                {
                    "first": b.first,
                    "last": b.last,
                    "labels": b.n_labels,
                    "pairs": n,
                    "examples": d.stats["examples"],
                    "seconds": round(d.seconds, 2),
                    "worker_peak_rss_mb": round(d.peak_rss_mb, 1),
                    "reused": d.reused,
                }
                for b, n, d in zip(branches, rows, done, strict=True)
            ],
            "partition_s": round(partition_s, 2),
            "tasks_s": round(tasks_s, 2),
            "worker_peak_rss_mb": round(max(d.peak_rss_mb for d in done), 1),
            "worker_malloc_trim_threshold": sorted(
                {d.malloc_trim_threshold for d in done}, key=lambda v: (v is not None, str(v))
            ),
        },
    }
    return {"xmr": stats}
