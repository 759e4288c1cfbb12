"""The blended ranker against its peers on the shared time split, in one run.

Rows (every test keystroke before the query is complete, or the first --limit of them):
    MPC                 most popular completion (the baseline)
    transition rule     next queries seen after the previous query, then MPC
    personal rule       the user's own past queries, most frequent first, then MPC
    blend (anonymous)   our ranker without personal history: labels + transitions +
                        generated completions + session features, weights fitted on dev
    blend (personal)    the same with each user's history replayed in time order
    [xmr rows]          when --xmr-index is given: the bare XR-Linear ranker, and the blend on it
                        (the learned ranker when the index has trees; then also "linear" rows:
                        the same blend without them)
Ratios to MPC per prefix bucket, ranking latency p50/p99, build time.

    .venv/bin/python bench/blend_quality.py [--log ...] [--limit N] [--xmr-index DIR]

Before/after a change of the ranker: `--before-src SRC --before-index DIR` (SRC: a checkout
of the earlier commit, DIR: an XR-Linear index that code built) scores only the XR-Linear rows
and MPC, of the earlier code on its index and of this checkout on `--xmr-index`, each in its
own process, both at once (so both meet the same machine load); prints both tables and the
change per bucket. The worker imports only what every version has (`load_index`, `evaluate`,
`load_split`). `--every N` scores every N-th test session (with the history of those only),
for quick iterations; reported figures use every session.

The index it builds without --index takes build-index's defaults, k-anonymity included
(K = 2); `bench/kanon.py` compares K values on this same scoring.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_LOG = ROOT.parent / "shared/data/aol/aol-top1000-2006-03-01_05-16.tsv.gz"
COLS = ["overall", "1", "2", "3", "4-5", "6-10", "11+"]
XMR_ROWS = ("MPC", "xmr (bare)", "xmr+blend (anonymous)", "xmr+blend (personal)")
#: the same blend without the learned trees (rows added when the index has them)
LINEAR_ROWS = ("xmr+blend linear (anonymous)", "xmr+blend linear (personal)")


def build(log: str, out: Path, *extra: str) -> float:
    t = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "autocomplete.cli",
            "build-index",
            "--log",
            log,
            "--out",
            str(out),
            "--quiet",
            *extra,
        ],
        check=True,
        cwd=ROOT,
    )
    return time.perf_counter() - t


def score(
    rankers: Sequence[tuple[str, Any, Sequence[Any] | None]],
    test: Sequence[Any],
    is_label: Callable[[str], bool],
    limit: int | None = None,
) -> dict[str, dict[str, Any]]:
    """`evaluate` each (name, ranker, past sessions or None) on the same test keystrokes."""
    from autocomplete.evaluate import evaluate

    rows: dict[str, dict[str, Any]] = {}
    for name, r, p in rankers:
        res = evaluate(r, test, is_label, limit=limit, past=p)
        rows[name] = res.to_dict()
        print(
            f"{name}: {res.examples} keystrokes in {res.seconds:.0f}s", file=sys.stderr, flush=True
        )
    return rows


def table(rows: dict[str, dict[str, Any]], baseline: str = "MPC", group: str = "all") -> str:
    """MRR@10 per bucket of every row, each followed by its ratio to the `baseline` row.
    `group`: "all" keystrokes, or those of a session's "first" or "later" queries."""
    if any(group not in r["quality"] for r in rows.values()):
        return f"(no {group!r} figures: scored by code that did not split them)"
    base = rows[baseline]["quality"][group]
    head = f"{'ranker':<30}" + "".join(f"{c:>9}" for c in COLS) + f"{'p50us':>8}{'p99us':>8}"
    what = {"all": "all targets", "first": "first query of a session", "later": "later queries"}
    lines = [f"MRR@10 ({what[group]}), ratio to {baseline} below each row", head]
    for name, r in rows.items():
        q = r["quality"][group]
        lines.append(
            f"{name:<30}"
            + "".join(f"{q[c]['mrr@10']:>9.4f}" for c in COLS)
            + f"{r['latency_us']['p50']:>8.0f}{r['latency_us']['p99']:>8.0f}"
        )
        lines.append(
            f"{'':<30}" + "".join(f"{q[c]['mrr@10'] / base[c]['mrr@10']:>8.2f}x" for c in COLS)
        )
    return "\n".join(lines)


def tables(rows: dict[str, dict[str, Any]]) -> str:
    """`table` of all keystrokes, then of first and of later queries of a session."""
    return "\n\n".join(table(rows, group=g) for g in ("all", "first", "later"))


def change(before: dict[str, Any], after: dict[str, Any]) -> str:
    """after / before - 1 of MRR@10 per bucket, and both latencies, for every shared row."""
    head = f"{'ranker':<30}" + "".join(f"{c:>9}" for c in COLS) + "   p50 / p99 us before -> after"
    lines = ["MRR@10 change, after vs before", head]
    for name in before:
        if name not in after:
            continue
        b, a = before[name]["quality"]["all"], after[name]["quality"]["all"]
        lb, la = before[name]["latency_us"], after[name]["latency_us"]
        lines.append(
            f"{name:<30}"
            + "".join(f"{a[c]['mrr@10'] / b[c]['mrr@10'] - 1:>+9.2%}" for c in COLS)
            + f"   {lb['p50']:.0f} / {lb['p99']:.0f} -> {la['p50']:.0f} / {la['p99']:.0f}"
        )
    return "\n".join(lines)


def xmr_worker(index: str, log: str, every: int, out: str) -> None:
    """Score the XR-Linear rows of `index` with whatever code is on sys.path (any version)."""
    from autocomplete.loader import load_index
    from indexer.dataset import load_split

    data = load_split([log])
    test = data.test[::every]
    past = data.train + data.dev
    bare = load_index(index, blend=False)
    blend = load_index(index)
    labels = blend.labels
    mpc, xmr, xmr_blend = XMR_ROWS[:3]
    rankers = [
        (mpc, bare.mpc, None),
        (xmr, bare.ranker, None),
        (xmr_blend, blend.ranker, None),
        (XMR_ROWS[3], blend.ranker, past),
    ]
    try:  # code from before the learned ranker has neither the loader flag nor the file
        linear = load_index(index, learned=False)  # type: ignore[call-arg]
        if linear.files.has("learned"):
            rankers += [
                (LINEAR_ROWS[0], linear.ranker, None),
                (LINEAR_ROWS[1], linear.ranker, past),
            ]
    except TypeError:
        pass
    rows = score(rankers, test, lambda t: labels.id_of(t) >= 0)
    meta = {"index": blend.version, "code": str(Path(sys.modules["autocomplete"].__file__))}
    Path(out).write_text(json.dumps({"meta": meta, "rows": rows}))


def before_after(args: argparse.Namespace) -> dict[str, Any]:
    """Both versions' XR-Linear rows, scored at once in two processes."""
    sides = {"before": (Path(args.before_src), args.before_index), "after": (ROOT, args.xmr_index)}
    with tempfile.TemporaryDirectory() as tmp:
        procs = {}
        for side, (src, index) in sides.items():
            out = Path(tmp) / f"{side}.json"
            cmd = [sys.executable, __file__, "--worker", index, "--log", args.log]
            cmd += ["--every", str(args.every), "--out", str(out)]
            env = {**os.environ, "PYTHONPATH": str(src)}
            procs[side] = (subprocess.Popen(cmd, cwd=src, env=env), out)
        for side, (proc, _) in procs.items():
            if proc.wait():
                raise SystemExit(f"the {side} worker failed ({proc.returncode})")
        return {side: json.loads(out.read_text()) for side, (_, out) in procs.items()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--log", default=str(DEFAULT_LOG))
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--index", help="reuse a blended index built from --log (default: build one)")
    ap.add_argument("--xmr-index", help="also score an XMR index (bare and blended)")
    ap.add_argument("--before-src", help="a checkout of the earlier code (see the docstring)")
    ap.add_argument("--before-index", help="the XR-Linear index the earlier code built")
    ap.add_argument("--every", type=int, default=1, help="score every N-th test session")
    ap.add_argument("--out", default=str(ROOT / "bench/results/blend_quality.json"))
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        xmr_worker(args.worker, args.log, args.every, args.out)
        return
    sys.path.insert(0, str(ROOT))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    if args.before_src or args.before_index:
        if not (args.before_src and args.before_index and args.xmr_index):
            raise SystemExit("--before-src and --before-index go with --xmr-index")
        t = time.perf_counter()
        res = before_after(args)
        for side in ("before", "after"):
            print(f"{side}: {res[side]['meta']}")
            print(tables(res[side]["rows"]))
        print(change(res["before"]["rows"], res["after"]["rows"]))
        res["meta"] = {"every": args.every, "seconds": time.perf_counter() - t}
        Path(args.out).write_text(json.dumps(res, indent=1))
        return
    sys.path.insert(0, str(ROOT / "bench"))
    from peers import PersonalRule, TransitionRule

    from autocomplete.loader import load_index
    from autocomplete.model.labels import TRANSITIONS, LabelIndex
    from autocomplete.model.learned import LearnedRanking
    from indexer.dataset import load_split

    with tempfile.TemporaryDirectory() as tmp:
        meta: dict[str, Any] = {}
        path = Path(args.index) if args.index else Path(tmp) / "blend"
        if not args.index:
            meta["build_s"] = build(args.log, path, "--model", "mpc")
        idx = load_index(path)
        bare = load_index(path, blend=False)
        data = load_split([args.log])
        test = data.test[:: args.every]
        past = data.train + data.dev
        is_label = lambda t: idx.labels.id_of(t) >= 0  # noqa: E731
        rankers: list[tuple[str, Any, Any]] = [
            ("MPC", bare.ranker, None),
            (
                "transition rule",
                TransitionRule(LabelIndex.load(idx.files, TRANSITIONS), bare.mpc),
                None,
            ),
            ("personal rule", PersonalRule(bare.mpc), past),
            ("blend (anonymous)", idx.ranker, None),
            ("blend (personal)", idx.ranker, past),
        ]
        if args.xmr_index:
            xb = load_index(args.xmr_index, blend=False)
            xi = load_index(args.xmr_index)
            rankers += [
                (XMR_ROWS[1], xb.ranker, None),
                (XMR_ROWS[2], xi.ranker, None),
                (XMR_ROWS[3], xi.ranker, past),
            ]
            if LearnedRanking.load(xi.files) is not None:
                xl = load_index(args.xmr_index, learned=False)
                rankers += [(LINEAR_ROWS[0], xl.ranker, None), (LINEAR_ROWS[1], xl.ranker, past)]
        rows = score(rankers, test, is_label, args.limit)
    print(tables(rows))
    Path(args.out).write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
