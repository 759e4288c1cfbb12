#!/usr/bin/env python
"""Quality benchmark on the shared time split: MPC vs libpecos XR-Linear vs ours, + ablations.

One run builds (or reuses) every index from the training part, replays the same test
keystrokes through every ranker, and prints:

1. peers: MPC, fast-autocomplete, libpecos XR-Linear (default hierarchical k-means index on
   plain char TF-IDF of "q_prev || prefix", predictions post-filtered by prefix) and ours:
   MRR@10, success@1/@10, BLEU-4 by prefix bucket ("all" and "seen" targets), build time
   (wall and CPU), peak memory, model size, single-query ranking latency p50/p99;
2. an ablation of ours like the paper's: trie depth 0..3, prefix weighting off, session
   features off, PECOS-style one-vs-rest squared hinge instead of our hierarchical softmax.

    .venv/bin/python bench/quality.py --limit 60000            # ~20 min warm, see README

Every index shares all training queries (K = 1, no contribution bounds: `KAnonParams.off()`),
the paper's setting, so libpecos and ours learn from the same examples.

Results go to bench/results/quality-*.json; built indexes are cached under
bench/results/indexes/<name>-<hash of its parameters> (--rebuild to redo them).

libpecos cannot share our venv (it wants numpy<2): `bash bench/pecos_env.sh` makes
bench/.venv-pecos, and this same file runs there as a subprocess (`--pecos-worker`), so the
module imports only the standard library at the top.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
PECOS_PY = ROOT / "bench" / ".venv-pecos" / "bin" / "python"
SHARED_LOG = ROOT.parent / "shared" / "data" / "aol" / "aol-top1000-2006-03-01_05-16.tsv.gz"


# ---------------------------------------------------------------------------------- helpers
def _pct(xs: list[float], q: float) -> float:
    if not xs:
        return 0.0
    s = sorted(xs)
    return s[min(len(s) - 1, int(round(q / 100 * (len(s) - 1))))]


def _dir_bytes(path: Path, prefix: str = "") -> int:
    return sum(
        f.stat().st_size for f in path.rglob("*") if f.is_file() and f.name.startswith(prefix)
    )


# ------------------------------------------------------------------------- libpecos worker
def pecos_worker(spec_path: str) -> int:
    """Runs inside bench/.venv-pecos: train XR-Linear with libpecos defaults, rank the test
    keystrokes, write ranked label ids + timings as JSON. Imports only numpy/scipy/sklearn/pecos."""
    import numpy as np
    import scipy.sparse as sp
    from pecos.xmc import Indexer, LabelEmbeddingFactory
    from pecos.xmc.xlinear.model import XLinearModel
    from sklearn.feature_extraction.text import TfidfVectorizer

    spec = json.loads(Path(spec_path).read_text())
    data = json.loads(Path(spec["data"]).read_text())
    labels: list[str] = data["labels"]
    train = data["train"]  # [prev, prefix, label id, weight]
    test = data["test"]  # [prev, prefix]
    out_dir = Path(spec["model_dir"])
    text = [f"{p} || {q}" for p, q, _, _ in train]
    t0, c0 = time.perf_counter(), time.process_time()
    vec = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), dtype=np.float32, min_df=2)
    x = vec.fit_transform(text).astype(np.float32).tocsr()
    y = sp.csr_matrix(
        (
            np.ones(len(train), dtype=np.float32),
            ([i for i in range(len(train))], [t[2] for t in train]),
        ),
        shape=(len(train), len(labels)),
    )
    label_feat = LabelEmbeddingFactory.create(y, x, method="pifa")
    chain = Indexer.gen(label_feat)  # default: hierarchical k-means, 16-way, leaves <= 100
    model = XLinearModel.train(x, y, C=chain)
    model.save(str(out_dir))
    train_s, train_cpu = time.perf_counter() - t0, time.process_time() - c0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    del model
    model = XLinearModel.load(str(out_dir), is_predict_only=True)
    beam, topk = spec["beam"], spec["topk"]
    xt = vec.transform([f"{p} || {q}" for p, q in test]).astype(np.float32).tocsr()
    pred = model.predict(xt, beam_size=beam, only_topk=topk).tocsr()
    ranked = []
    for i, (_, prefix) in enumerate(test):
        row = pred.indices[pred.indptr[i] : pred.indptr[i + 1]]
        sc = pred.data[pred.indptr[i] : pred.indptr[i + 1]]
        order = row[np.argsort(-sc, kind="stable")]
        ranked.append([int(j) for j in order if labels[j].startswith(prefix)][:10])
    # single-query latency, one thread: featurise + predict + filter, as a server would
    rng = random.Random(0)
    sample = rng.sample(range(len(test)), min(spec["latency_queries"], len(test)))
    lat, lat_pred = [], []
    for i in sample:
        prev, prefix = test[i]
        t = time.perf_counter()
        q = vec.transform([f"{prev} || {prefix}"]).astype(np.float32).tocsr()
        t1 = time.perf_counter()
        p = model.predict(q, beam_size=beam, only_topk=topk, threads=1).tocsr()
        lat_pred.append((time.perf_counter() - t1) * 1e6)
        _ = [j for j in p.indices[np.argsort(-p.data)] if labels[j].startswith(prefix)][:10]
        lat.append((time.perf_counter() - t) * 1e6)
    Path(spec["out"]).write_text(
        json.dumps(
            {
                "ranked": ranked,
                "train_s": train_s,
                "train_cpu_s": train_cpu,
                "peak_rss_mb": peak,
                "model_bytes": _dir_bytes(out_dir),
                "features": int(x.shape[1]),
                "latency_us": {
                    "p50": _pct(lat, 50),
                    "p99": _pct(lat, 99),
                    "mean": sum(lat) / max(len(lat), 1),
                },
                # predict() alone, without sklearn's featurisation of the query string
                "predict_latency_us": {"p50": _pct(lat_pred, 50), "p99": _pct(lat_pred, 99)},
            }
        )
    )
    return 0


# ---------------------------------------------------------------------------- build worker
def build_worker(spec_path: str) -> int:
    """Build one index in a fresh process, so its time and peak memory are its own."""
    from indexer.build import build_index
    from indexer.params import BuildParams

    spec = json.loads(Path(spec_path).read_text())
    params = BuildParams.from_json(spec["params"])
    t0, c0 = time.perf_counter(), time.process_time()
    build_index([spec["log"]], spec["out"], params)
    wall, cpu = time.perf_counter() - t0, time.process_time()
    ch = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = {
        "build_s": wall,
        "build_cpu_s": cpu - c0 + ch.ru_utime + ch.ru_stime,
        "peak_rss_mb": max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, ch.ru_maxrss) / 1024,
    }
    Path(spec["report"]).write_text(json.dumps(out))
    return 0


# ------------------------------------------------------------------------------ the bench
class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        from indexer.dataset import load_split

        self.args = args
        self.log = Path(args.log)
        self.work = RESULTS / "indexes"
        self.work.mkdir(parents=True, exist_ok=True)
        t = time.perf_counter()
        self.data = load_split([self.log])
        print(
            f"log read in {time.perf_counter() - t:.1f}s: {len(self.data.train)} train, "
            f"{len(self.data.dev)} dev, {len(self.data.test)} test sessions",
            flush=True,
        )
        self.test = self._sample(self.data.test, args.limit, args.seed)
        self.n_test = min(
            args.limit or 10**12, sum(len(q) - 1 for s in self.test for q in s.queries)
        )

    @staticmethod
    def _sample(sessions: list[Any], limit: int | None, seed: int) -> list[Any]:
        """Whole sessions in a seeded random order until `limit` keystrokes are covered."""
        if not limit:
            return sessions
        order = list(range(len(sessions)))
        random.Random(seed).shuffle(order)
        out, n = [], 0
        for i in order:
            out.append(sessions[i])
            n += sum(len(q) - 1 for q in sessions[i].queries)
            if n >= limit:
                break
        return out

    # -- building ---------------------------------------------------------------------
    def build(self, name: str, params: Any) -> tuple[Path, dict[str, Any]]:
        pj = params.to_json()
        key = hashlib.sha256(
            json.dumps({"p": pj, "log": str(self.log)}, sort_keys=True).encode()
        ).hexdigest()[:10]
        out = self.work / f"{name}-{key}"
        report = out.with_suffix(".build.json")
        if self.args.rebuild or not (out / "manifest.json").is_file() or not report.is_file():
            spec = out.with_suffix(".spec.json")
            spec.write_text(
                json.dumps(
                    {"params": pj, "log": str(self.log), "out": str(out), "report": str(report)}
                )
            )
            print(f"  building {name} ...", flush=True)
            subprocess.run(
                [sys.executable, __file__, "--build-worker", str(spec)], check=True, cwd=ROOT
            )
        rep = json.loads(report.read_text())
        return out, rep

    # -- evaluating ---------------------------------------------------------------------
    def evaluate(self, ranker: Any, limit: int | None = None) -> dict[str, Any]:
        from autocomplete.evaluate import evaluate

        limit = min(limit, self.n_test) if limit else self.args.limit
        res = evaluate(ranker, self.test, self.is_label, k=10, limit=limit)
        return {
            "quality": res.quality,
            "latency_us": res.latency_us,
            "keystrokes": res.examples,
            "eval_s": res.seconds,
        }

    def run(self) -> dict[str, Any]:
        from autocomplete.loader import load_index
        from autocomplete.model.artifact import IndexFiles
        from autocomplete.model.labels import TRANSITIONS, LabelIndex
        from autocomplete.model.xmr import RankParams
        from autocomplete.xmr_ranker import XMRRanker
        from indexer.kanon import KAnonParams
        from indexer.params import BuildParams

        skip = set(self.args.skip)
        rows: dict[str, Any] = {}
        n, seed = self.n_test, self.args.seed
        print(f"test keystrokes: {n} from {len(self.test)} sessions (seed {seed})", flush=True)

        mpc_dir, mpc_rep = self.build("mpc", BuildParams(model="mpc", kanon=KAnonParams.off()))
        mpc_idx = load_index(mpc_dir, blend=False)
        labels = mpc_idx.labels
        self.is_label = lambda t: labels.id_of(t) >= 0  # noqa: E731 - same labels for all
        print("MPC ...", flush=True)
        rows["MPC"] = {
            **self.evaluate(mpc_idx.mpc),
            **mpc_rep,
            "model_bytes": _dir_bytes(mpc_dir, "labels"),
        }

        if "fast" not in skip:
            print("fast-autocomplete ...", flush=True)
            rows["fast-autocomplete"] = self.fast_autocomplete(labels)
        try:
            from bench.peers import TransitionRule
        except ImportError:
            TransitionRule = None  # noqa: N806 - the lead's peer module is optional here
        if TransitionRule is not None:
            print("transition rule ...", flush=True)
            rule = TransitionRule(LabelIndex.load(mpc_idx.files, TRANSITIONS), mpc_idx.mpc)
            rows["transition rule (prev->next, then MPC)"] = self.evaluate(rule)

        ours_p = BuildParams(model="xmr", xmr=_ours(self.args), kanon=KAnonParams.off())
        ours_dir, ours_rep = self.build("xmr", ours_p)
        files = IndexFiles(ours_dir)
        print("ours ...", flush=True)
        rank = (
            RankParams.from_json(json.loads(self.args.rank_json))
            if self.args.rank_json
            else RankParams()
        )
        ours = XMRRanker.load(files, LabelIndex.load(files), rank)
        rows["ours (xmr, path score)"] = {
            **self.evaluate(ours),
            **ours_rep,
            "model_bytes": _dir_bytes(ours_dir, "xmr_"),
            "stats": files.manifest["stats"],
        }

        if "pecos" not in skip:
            print("libpecos ...", flush=True)
            rows["libpecos XR-Linear"] = self.pecos(ours_p, labels)

        ablation: dict[str, Any] = {}
        if "ablation" not in skip:
            from dataclasses import replace

            base = ours_p.xmr
            variants = {
                f"depth {d}" + (" (ours)" if d == base.depth else ""): replace(base, depth=d)
                for d in range(4)
            }
            feat = base.featurizer
            variants.update(
                {
                    "prefix weighting off": replace(
                        base, featurizer=replace(feat, position_decay=0.0, word_start_boost=1.0)
                    ),
                    "session features off": replace(
                        base, featurizer=replace(feat, session_weight=0.0, start_token=False)
                    ),
                    "one-vs-rest sqhinge (PECOS loss)": replace(base, loss="sqhinge"),
                }
            )
            for name, xp in variants.items():
                d, rep = (
                    (ours_dir, ours_rep)
                    if xp == base
                    else self.build(
                        "xmr", BuildParams(model="xmr", xmr=xp, kanon=KAnonParams.off())
                    )
                )
                f = IndexFiles(d)
                print(f"ablation: {name} ...", flush=True)
                ablation[name] = {
                    **self.evaluate(XMRRanker.load(f, LabelIndex.load(f), rank)),
                    **rep,
                    "model_bytes": _dir_bytes(d, "xmr_"),
                }
        return {"rows": rows, "ablation": ablation}

    def fast_autocomplete(self, labels: Any) -> dict[str, Any]:
        from fast_autocomplete import AutoComplete

        from autocomplete.ranking import Completion

        words = {labels.text(i): {"count": int(labels.counts[i])} for i in range(len(labels))}
        t0, c0 = time.perf_counter(), time.process_time()
        ac = AutoComplete(words=words)
        build_s, build_cpu = time.perf_counter() - t0, time.process_time() - c0

        class FastAC:
            def complete(self, prev: Any, prefix: str, k: int = 10) -> list[Completion]:
                found = ac.search(word=prefix, max_cost=0, size=3 * k)
                texts = [" ".join(r) for r in found]
                return [Completion(t, 0.0) for t in texts if t.startswith(prefix)][:k]

        return {
            **self.evaluate(FastAC(), self.args.fast_limit),
            "build_s": build_s,
            "build_cpu_s": build_cpu,
        }

    def pecos(self, ours_p: Any, labels: Any) -> dict[str, Any]:
        from indexer.metrics import QualityReport
        from indexer.sessions import examples, pairs
        from indexer.xmr.examples import build_examples

        if not PECOS_PY.is_file():
            print(f"  skipped: {PECOS_PY} missing (bash bench/pecos_env.sh)", flush=True)
            return {"skipped": "no bench/.venv-pecos"}
        texts = [labels.text(i) for i in range(len(labels))]
        # the same training examples as ours: sampled prefixes of each training query
        raw = build_examples(((p, q) for p, q, _, _ in pairs(self.data.train)), texts, ours_p.xmr)
        exs = [e for _, e in zip(range(self.n_test), examples(self.test), strict=False)]
        beam, topk = self.args.pecos_beam, self.args.pecos_topk
        key = hashlib.sha256(
            json.dumps(
                [str(self.log), self.n_test, self.args.seed, ours_p.xmr.to_json(), beam, topk],
                sort_keys=True,
            ).encode()
        ).hexdigest()[:10]
        base = self.work / f"pecos-{key}"
        base.mkdir(exist_ok=True)
        out = base / "result.json"
        if self.args.rebuild or not out.is_file():
            data = {
                "labels": texts,
                "train": [
                    [c[-1] if c else "", p, int(t), float(w)]
                    for c, p, t, w in zip(
                        raw.contexts, raw.prefixes, raw.targets, raw.weights, strict=True
                    )
                ],
                "test": [[e.context[-1] if e.context else "", e.prefix] for e in exs],
            }
            (base / "data.json").write_text(json.dumps(data))
            spec = {
                "data": str(base / "data.json"),
                "model_dir": str(base / "model"),
                "out": str(out),
                "beam": beam,
                "topk": topk,
                "latency_queries": 3000,
            }
            (base / "spec.json").write_text(json.dumps(spec))
            print(f"  training libpecos on {len(raw)} examples ...", flush=True)
            subprocess.run(
                [str(PECOS_PY), __file__, "--pecos-worker", str(base / "spec.json")],
                check=True,
                cwd=ROOT,
            )
        res = json.loads(out.read_text())
        report = QualityReport(10)
        for e, ids in zip(exs, res.pop("ranked"), strict=True):
            report.add(e.prefix, e.target, [texts[i] for i in ids], self.is_label(e.target))
        return {
            "quality": report.to_dict(),
            "build_s": res["train_s"],
            "build_cpu_s": res["train_cpu_s"],
            **{k: v for k, v in res.items() if k not in ("train_s", "train_cpu_s")},
        }


def _ours(args: argparse.Namespace) -> Any:
    """Our XMRParams: the defaults, with --xmr-json overrides (featuriser settings included)."""
    from dataclasses import fields, replace

    from autocomplete.model.featurizer import FeaturizerParams
    from indexer.xmr.params import XMRParams

    over = json.loads(args.xmr_json) if args.xmr_json else {}
    feat = {f.name for f in fields(FeaturizerParams)}
    base = XMRParams()
    featurizer = replace(base.featurizer, **{k: v for k, v in over.items() if k in feat})
    return replace(base, featurizer=featurizer, **{k: v for k, v in over.items() if k not in feat})


# ------------------------------------------------------------------------------- printing
def table(rows: dict[str, Any], metric: str, group: str) -> str:
    from autocomplete.model.buckets import NAMES

    cols = ("overall", *NAMES)
    head = f"{'':40s}" + "".join(f"{b:>9s}" for b in cols)
    lines = [f"{metric} ({group})", head]
    for name, r in rows.items():
        q = r.get("quality", {}).get(group)
        if not q:
            continue
        lines.append(
            f"{name:40s}" + "".join(f"{q[b][metric]:9.4f}" if b in q else f"{'':9s}" for b in cols)
        )
    return "\n".join(lines)


def costs(rows: dict[str, Any]) -> str:
    heads = ("build s", "cpu s", "peak MB", "size MB", "p50 us", "p99 us")
    lines = [f"{'':40s}" + "".join(f"{h:>9s}" for h in heads)]
    for name, r in rows.items():
        lat = r.get("latency_us", {})

        def f(v: Any, fmt: str = "9.1f") -> str:
            return format(v, fmt) if isinstance(v, (int, float)) else f"{'-':>9s}"

        lines.append(
            f"{name:40s}{f(r.get('build_s'))}{f(r.get('build_cpu_s'))}{f(r.get('peak_rss_mb'))}"
            f"{f((r.get('model_bytes') or 0) / 1e6 if r.get('model_bytes') else None, '9.1f')}"
            f"{f(lat.get('p50'), '9.0f')}{f(lat.get('p99'), '9.0f')}"
        )
    return "\n".join(lines)


def report(result: dict[str, Any]) -> str:
    out = []
    for title, rows in (("PEERS", result["rows"]), ("ABLATION (ours)", result["ablation"])):
        if not rows:
            continue
        out.append(f"=== {title} ===")
        for group in ("all", "seen"):
            out.append(table(rows, "mrr@10", group))
        out.append(table(rows, "success@1", "all"))
        out.append(table(rows, "success@10", "all"))
        out.append(table(rows, "bleu4", "all"))
        out.append(costs(rows))
    return "\n\n".join(out)


# ------------------------------------------------------------------------------------ main
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--log", default=str(SHARED_LOG))
    ap.add_argument(
        "--limit", type=int, default=None, help="test keystrokes (whole sessions, seeded sample)"
    )
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--skip", nargs="*", default=[], choices=["pecos", "fast", "ablation"])
    ap.add_argument("--rebuild", action="store_true", help="rebuild cached indexes")
    ap.add_argument(
        "--out", default=None, help="JSON path (default bench/results/quality-<time>.json)"
    )
    ap.add_argument(
        "--xmr-json", default="", help='XMRParams overrides for "ours", e.g. \'{"depth": 1}\''
    )
    ap.add_argument(
        "--rank-json", default="", help="RankParams JSON for ours (default: the stored ones)"
    )
    ap.add_argument(
        "--pecos-beam", type=int, default=10, help="libpecos beam size (its default: 10)"
    )
    ap.add_argument(
        "--pecos-topk",
        type=int,
        default=100,
        help="libpecos predictions kept before the prefix filter (its default: 20)",
    )
    ap.add_argument(
        "--fast-limit",
        type=int,
        default=20000,
        help="keystrokes for fast-autocomplete (pure Python, ~5 ms each)",
    )
    ap.add_argument("--pecos-worker", help=argparse.SUPPRESS)
    ap.add_argument("--build-worker", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.pecos_worker:
        return pecos_worker(args.pecos_worker)
    sys.path.insert(0, str(ROOT))
    if args.build_worker:
        return build_worker(args.build_worker)
    t0 = time.perf_counter()
    bench = Bench(args)
    result = {
        "command": " ".join(
            [Path(sys.executable).name, "bench/quality.py", *(argv or sys.argv[1:])]
        ),
        "log": str(args.log),
        "test_keystrokes": bench.n_test,
        "seed": args.seed,
        "machine": {"cpus": os.cpu_count(), "load_avg": os.getloadavg()},
        **bench.run(),
    }
    result["seconds"] = time.perf_counter() - t0
    text = report(result)
    print(text)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = Path(args.out) if args.out else RESULTS / f"quality-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(result, indent=1))
    (out.with_suffix(".txt")).write_text(text + "\n")
    print(f"\nwrote {out} ({result['seconds']:.0f}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
