"""`build_xmr`: learn the XR-Linear model and its session tables, and write them.

What is learned here is written through its owners in `autocomplete.model`:
`XMRModel` (featuriser, hybrid trie-tree, level rankers) and `SessionTables` (label ->
label transitions, each label's words). `docs/architecture.md` lists every file.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp

from autocomplete.model.artifact import IndexWriter
from autocomplete.model.featurizer import Featurizer
from autocomplete.model.labels import LabelTable
from autocomplete.model.session import SessionTables
from autocomplete.model.tree import HybridTree
from autocomplete.model.xmr import XMRModel

from ..progress import Progress, ProgressLike
from ..report import peak_rss_mb
from .examples import Item, examples_from, numbered_contexts
from .params import XMRParams
from .train import TrainingSet, fold_priors, train_levels
from .tree import build_tree


def _l2rows(m: sp.csr_matrix) -> sp.csr_matrix:
    m = sp.csr_matrix(m, dtype=np.float32)
    norms = np.sqrt(np.asarray(m.multiply(m).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    return sp.csr_matrix(sp.diags(1.0 / norms).astype(np.float32) @ m)


def label_embeddings(
    feat: Featurizer, texts: Sequence[str], ts: TrainingSet | None
) -> sp.csr_matrix:
    """Char TF-IDF of each label, hstacked with PIFA (normalised mean input of its examples)."""
    emb = feat.embed_texts(texts)
    if ts is None:
        return emb
    y = sp.csr_matrix((ts.weight, (ts.target, np.arange(len(ts)))), shape=(len(texts), len(ts)))
    x = ts.x[:, : feat.dim - 1]  # the bias column carries no information about the label
    pifa = _l2rows(y @ x)
    return _l2rows(sp.hstack([emb, pifa], format="csr"))


def transitions(
    train_pairs: Sequence[tuple[str, str, str, float]], texts: Sequence[str]
) -> sp.csr_matrix:
    """counts[prev label, next label] over training pairs whose q_prev is a label."""
    label_id = {t: i for i, t in enumerate(texts)}
    rows, cols = [], []
    for prev, q, _, _ in train_pairs:
        if prev:
            a, b = label_id.get(prev), label_id.get(q)
            if a is not None and b is not None:
                rows.append(a)
                cols.append(b)
    n = len(texts)
    m = sp.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(n, n))
    m.sum_duplicates()
    return m


def train_xmr(
    texts: Sequence[str],
    train_pairs: Sequence[tuple[str, str, str, float]],
    xp: XMRParams,
    progress: ProgressLike,
    counts: np.ndarray | None = None,
) -> tuple[Featurizer, HybridTree, list[sp.csr_matrix], dict[str, Any]]:
    """The pure part of the build: everything learned, nothing written.

    With `counts` and `xp.prior`, the returned weights' bias column already includes the
    popularity offsets (see `train.node_priors`), so they score exactly as the runtime does.
    `progress` reports the phases "XR-Linear features", "XR-Linear tree" and
    "XR-Linear training" (one step per level).
    """
    report = Progress.of(progress)
    feat = Featurizer.fit(xp.featurizer, texts)
    items = numbered_contexts(((p, q) for p, q, _, _ in train_pairs), xp.featurizer.context_window)
    workers = xp.workers or (os.cpu_count() or 1)
    tree, weights, stats = learn_subtree(
        feat, texts, items, xp, counts, workers=workers, progress=report
    )
    if uses_prior(xp, counts):
        assert counts is not None
        weights = fold_priors(weights, tree, counts, feat.bias_col)
        stats["weights_nnz"] = [int(w.nnz) for w in weights]
    return feat, tree, weights, stats


def uses_prior(xp: XMRParams, counts: np.ndarray | None) -> bool:
    """Whether the rankers train with the popularity offsets (`XMRParams.prior`)."""
    return xp.prior and xp.loss == "softmax" and counts is not None


def learn_subtree(
    feat: Featurizer,
    texts: Sequence[str],
    items: Iterable[Item],
    xp: XMRParams,
    counts: np.ndarray | None,
    *,
    height: int | None = None,
    label_offset: int = 0,
    workers: int = 1,
    progress: ProgressLike = None,
) -> tuple[HybridTree, list[sp.csr_matrix], dict[str, Any]]:
    """Examples, label embeddings, tree and rankers over the labels `texts` (sorted) from
    the numbered pairs `items`; the weights without the popularity offsets folded in.

    The whole build calls it once over every label; the partitioned build
    (`indexer.xmr.partition`) once per top-level branch, with the whole tree's `height` and
    the branch's first global label id as `label_offset`. Every example of a label starts
    with the label's first character, so a branch's examples, embeddings, clusters and
    rankers depend on its own labels and pairs alone: both ways learn the same numbers.
    """
    report = Progress.of(progress)
    stats: dict[str, Any] = {}
    t0 = time.perf_counter()
    with report.phase("XR-Linear features") as ph:
        raw = examples_from(items, texts, xp)
        x = feat.transform_many(raw.contexts, raw.prefixes)
        ts = TrainingSet(
            x,
            raw.weights,
            raw.targets,
            raw.lo,
            raw.hi,
            np.fromiter((len(p) for p in raw.prefixes), dtype=np.int32, count=len(raw)),
        )
        del raw
        ph.finish(f"{len(ts)} distinct examples, {feat.dim} features")
    stats["examples"] = len(ts)
    stats["features"] = feat.dim
    stats["featurise_s"] = round(time.perf_counter() - t0, 2)
    t1 = time.perf_counter()
    with report.phase("XR-Linear tree") as ph:
        emb = label_embeddings(feat, texts, ts if xp.pifa else None)
        tree = build_tree(
            list(texts),
            emb,
            depth=xp.depth,
            branching=xp.branching,
            max_leaf=xp.max_leaf,
            iters=xp.kmeans_iters,
            seed=xp.seed,
            height=height,
            label_offset=label_offset,
        )
        del emb
        stats["levels"] = [tree.level_size(level) for level in range(1, tree.height + 1)]
        ph.finish(f"height {tree.height}, level sizes {stats['levels']}")
    stats["tree_s"] = round(time.perf_counter() - t1, 2)
    t2 = time.perf_counter()
    use_prior = uses_prior(xp, counts)
    weights = train_levels(
        ts,
        tree,
        xp,
        counts=counts if use_prior else None,
        workers=workers,
        label_offset=label_offset,
        progress=report,
    )
    stats["train_s"] = round(time.perf_counter() - t2, 2)
    stats["weights_nnz"] = [int(w.nnz) for w in weights]
    return tree, weights, stats


def build_xmr(
    w: IndexWriter,
    labels: LabelTable,
    train_pairs: list[tuple[str, str, str, float]],
    xp: XMRParams,
    progress: ProgressLike,
) -> dict[str, Any]:
    """Learn and write the xmr artifacts; returns build statistics for the manifest.
    `progress`: `train_xmr`'s phases, then "XR-Linear writing"."""
    report = Progress.of(progress)
    t0 = time.perf_counter()
    feat, tree, weights, stats = train_xmr(labels.texts, train_pairs, xp, report, labels.counts)
    with report.phase("XR-Linear writing") as ph:
        null = xp.loss == "softmax" and xp.null_class
        XMRModel.from_trained(feat, tree, weights, xp.combine, null).save(w)
        label_words = feat.label_words(labels.texts)
        SessionTables(transitions(train_pairs, labels.texts), label_words).save(w)
        stats["build_s"] = round(time.perf_counter() - t0, 2)
        stats["peak_rss_mb"] = round(peak_rss_mb(), 1)
        ph.finish(f"model and session tables; peak RSS {stats['peak_rss_mb']} MB")
    return {"xmr": stats}
