"""`build_xmr`: featuriser, hybrid trie-tree, per-level rankers and transitions into an index.

Artifacts (all through `IndexWriter`, so arrays are mmap'd and checksummed):
    xmr_words.marisa, xmr_grams.marisa, xmr_idf.npy   the featuriser's vocabularies and IDF
    xmr_cptr_{l}.npy, xmr_perm.npy                     the hybrid trie-tree
    xmr_vkey_{l}.npy                                   per-level "node holds label" search keys
    xmr_w_{l}.*.npy, xmr_b_{l}.npy, xmr_wt_{l}.*.npy   level l's weights (see `save_levels`)
    xmr_trans.*.npy                                    prev label -> next label counts, CSR
    xmr_label_words.*.npy                              each label's word TF-IDF (session overlap)
    xmr_model.json                                     shapes, and default `RankParams`
"""

from __future__ import annotations

import os
import resource
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp

from ..artifact import IndexWriter
from ..labels import LabelTable
from ..params import BuildParams
from .examples import build_examples
from .features import Featurizer
from .params import RankParams, XMRParams
from .train import TrainingSet, node_priors, train_levels
from .tree import HybridTree, build_tree

Progress = Callable[[str], None]
MODEL_VERSION = 1


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


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
    say: Progress,
    counts: np.ndarray | None = None,
) -> tuple[Featurizer, HybridTree, list[sp.csr_matrix], dict[str, Any]]:
    """The pure part of the build: everything learned, nothing written.

    With `counts` and `xp.prior`, the returned weights' bias column already includes the
    popularity offsets (see `train.node_priors`), so they score exactly as the runtime does.
    """
    stats: dict[str, Any] = {}
    t0 = time.perf_counter()
    feat = Featurizer.fit(xp, texts)
    raw = build_examples(((p, q) for p, q, _, _ in train_pairs), texts, xp)
    say(f"xmr: {len(raw)} distinct examples, {feat.dim} features")
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
    stats["examples"] = len(ts)
    stats["features"] = feat.dim
    stats["featurise_s"] = round(time.perf_counter() - t0, 2)
    t1 = time.perf_counter()
    emb = label_embeddings(feat, texts, ts if xp.pifa else None)
    tree = build_tree(
        list(texts),
        emb,
        depth=xp.depth,
        branching=xp.branching,
        max_leaf=xp.max_leaf,
        iters=xp.kmeans_iters,
        seed=xp.seed,
    )
    del emb
    stats["tree_s"] = round(time.perf_counter() - t1, 2)
    stats["levels"] = [tree.level_size(level) for level in range(1, tree.height + 1)]
    say(f"xmr: tree of height {tree.height}, level sizes {stats['levels']}")
    t2 = time.perf_counter()
    use_prior = xp.prior and xp.loss == "softmax" and counts is not None
    workers = xp.workers or (os.cpu_count() or 1)
    weights = train_levels(
        ts, tree, xp, counts=counts if use_prior else None, workers=workers, progress=say
    )
    if use_prior:
        assert counts is not None
        for level, off in enumerate(node_priors(tree, counts)[1:]):
            w = weights[level].tolil()
            w[:, feat.bias_col] = (w[:, feat.bias_col].toarray().ravel() + off)[:, None]
            weights[level] = w.tocsr()
    stats["train_s"] = round(time.perf_counter() - t2, 2)
    stats["weights_nnz"] = [int(w.nnz) for w in weights]
    return feat, tree, weights, stats


def save_levels(
    w: IndexWriter, tree: HybridTree, weights: Sequence[sp.csr_matrix], bias_col: int
) -> None:
    """Level l's weights as the runtime reads them: node-major rows without the bias column
    (`xmr_w_{l}`), the bias per node (`xmr_b_{l}`), and for the levels above the labels a
    feature-major copy (`xmr_wt_{l}`) that scores a whole level in one pass. The label
    level's rows are in label-id order, so a prefix's labels are one contiguous run."""
    for level, wl in enumerate(weights, start=1):
        wl = sp.csr_matrix(wl)
        bias = np.asarray(wl[:, bias_col].todense(), dtype=np.float32).ravel()
        body = sp.csr_matrix(wl[:, :bias_col])
        if level == tree.height:
            pos = np.empty(tree.n_labels, dtype=np.int64)
            pos[tree.perm] = np.arange(tree.n_labels)
            body, bias = body[pos], bias[pos]
        else:
            w.matrix(f"xmr_wt_{level}", body.T.tocsr())
        w.matrix(f"xmr_w_{level}", body)
        w.array(f"xmr_b_{level}", bias)


def build_xmr(
    w: IndexWriter,
    labels: LabelTable,
    train_pairs: list[tuple[str, str, str, float]],
    params: BuildParams,
    say: Progress,
) -> dict[str, Any]:
    """Learn and write the xmr artifacts; returns build statistics for the manifest."""
    xp = params.xmr
    t0 = time.perf_counter()
    feat, tree, weights, stats = train_xmr(labels.texts, train_pairs, xp, say, labels.counts)
    feat.save(w)
    tree.save(w)
    for level, key in enumerate(tree.validity_keys()):
        w.array(f"xmr_vkey_{level}", key)
    save_levels(w, tree, weights, feat.bias_col)
    w.matrix("xmr_trans", transitions(train_pairs, labels.texts))
    w.matrix("xmr_label_words", feat.label_words(labels.texts))
    w.json(
        "xmr_model",
        {
            "version": MODEL_VERSION,
            "depth": tree.depth,
            "height": tree.height,
            "dim": feat.dim,
            "n_labels": tree.n_labels,
            "loss": xp.loss,
            "null_class": bool(xp.loss == "softmax" and xp.null_class),
            "rank": RankParams().to_json(),
        },
    )
    stats["build_s"] = round(time.perf_counter() - t0, 2)
    stats["peak_rss_mb"] = round(_rss_mb(), 1)
    say(f"xmr: built in {stats['build_s']}s, peak RSS {stats['peak_rss_mb']} MB")
    return {"xmr": stats}
