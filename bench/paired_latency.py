"""Ranking time of two source trees on the same keystrokes, paired chunk by chunk.

On a shared machine the same code's mean time per keystroke moves by 20% between runs minutes
apart, so two versions timed one after the other say little about a change of a few percent.
Here two processes, one per tree (`--before SRC`, `--after SRC`, default this tree), load
the same index and the same test keystrokes (consecutive, as a typist sends them), then rank
them in chunks taking turns: chunk i by one, chunk i by the other, the order flipping every
chunk. Each chunk's ratio (after / before) compares the two under the same machine load; the
report gives the ratios' mean, median and a 95% interval (bootstrap over chunks), each side's
mean time per call, and each side's percentiles over all its calls (the two sides met the same
machine turn by turn, so their tails compare too). Every keystroke is ranked twice, without
and with the user's history (`PrefixHistory`, shared by the keystrokes of one query, as a
server does).

    .venv/bin/python bench/paired_latency.py --index DIR --before /tmp/before-src [--after .]
        [--keystrokes 12000] [--chunk 500] [--before-python PY] [--after-python PY]

`--before-python` / `--after-python` run a side under another interpreter (one with the
package's dependencies installed): the same code under two Python builds.

Writes bench/results/paired_latency.json. Not run in CI.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_LOG = ROOT.parent / "shared/data/aol/aol-top1000-2006-03-01_05-16.tsv.gz"
#: keystroke classes the tails are reported by: typed length, and whether the session has a
#: previous query (its first keystrokes meet the per-session work cold)
LENGTHS = ((1, 1, "1"), (2, 2, "2"), (3, 5, "3-5"), (6, 10, "6-10"), (11, 10**6, "11+"))
KINDS = [f"{name} chars, {p}" for _, _, name in LENGTHS for p in ("first query", "previous")]


def kind(prefix: str, previous: bool) -> int:
    """The index in `KINDS` of a keystroke."""
    n = len(prefix)
    row = next(i for i, (a, b, _) in enumerate(LENGTHS) if a <= n <= b)
    return 2 * row + int(previous)


def child(index: str, log: str, keystrokes: int, chunk: int) -> None:
    """One side: load, say `ready`, then per `go` line rank the next chunk and print each
    call's microseconds and its keystroke's class (`us:kind`). Imports the tree on
    PYTHONPATH (set by the parent)."""
    import itertools

    from autocomplete.history import keystrokes_with_history
    from autocomplete.loader import load_index
    from autocomplete.ranking import Context, PrefixHistory
    from indexer.dataset import load_split

    data = load_split([log])
    # one view per history, as `autocomplete.history.served` makes them; not called, since
    # the child may import a tree from before it
    views: dict[int, tuple[object, PrefixHistory]] = {}  # keeps each history alive: ids unique
    cases = []
    stream = keystrokes_with_history(data.train + data.dev, data.test)
    for ex, ctx in itertools.islice(stream, 0, keystrokes):
        view = views.setdefault(id(ctx.history), (ctx.history, PrefixHistory(ctx.history)))[1]
        mine = Context(ctx.previous, view, ctx.now)
        k = kind(ex.prefix, bool(ctx.previous))
        cases.append((ex.prefix, Context(ctx.previous, (), ctx.now), mine, k))
    ranker = load_index(index).ranker
    print("ready", flush=True)
    pos = 0
    for _ in sys.stdin:
        part = cases[pos : pos + chunk]
        pos += chunk
        calls = []
        clock = time.perf_counter
        for prefix, anonymous, personal, k in part:
            t = clock()
            ranker.complete(anonymous, prefix, 10)
            t1 = clock()
            ranker.complete(personal, prefix, 10)
            calls += ((t1 - t, k), (clock() - t1, k))
        print(" ".join(f"{c * 1e6:.1f}:{k}" for c, k in calls), flush=True)


def spawn(src: Path, python: str, args: argparse.Namespace) -> subprocess.Popen[str]:
    cmd = [python, str(Path(__file__).resolve()), "--child", "--index", args.index]
    cmd += ["--log", args.log, "--keystrokes", str(args.keystrokes), "--chunk", str(args.chunk)]
    env = {**os.environ, "PYTHONPATH": str(src)}
    return subprocess.Popen(
        cmd, cwd=src, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--index", required=True)
    ap.add_argument("--before", help="source tree of the code before (required)")
    ap.add_argument("--after", default=str(ROOT), help="source tree of the code after")
    ap.add_argument("--before-python", default=sys.executable, help="the before side's Python")
    ap.add_argument("--after-python", default=sys.executable, help="the after side's Python")
    ap.add_argument("--log", default=str(DEFAULT_LOG))
    ap.add_argument("--keystrokes", type=int, default=12_000)
    ap.add_argument("--chunk", type=int, default=500)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--out", default=str(ROOT / "bench/results/paired_latency.json"))
    args = ap.parse_args()
    args.index, args.log = str(Path(args.index).resolve()), str(Path(args.log).resolve())
    if args.child:
        child(args.index, args.log, args.keystrokes, args.chunk)
        return
    if args.before is None:
        ap.error("--before SRC is required")

    import numpy as np

    sides = {"before": Path(args.before).resolve(), "after": Path(args.after).resolve()}
    pythons = {"before": args.before_python, "after": args.after_python}
    procs = {name: spawn(src, pythons[name], args) for name, src in sides.items()}
    for name, p in procs.items():
        assert p.stdout is not None and p.stdin is not None
        if p.stdout.readline().strip() != "ready":
            raise SystemExit(f"the {name} side did not start")
    times: dict[str, list[float]] = {name: [] for name in procs}
    calls: dict[str, list[float]] = {name: [] for name in procs}
    kinds: dict[str, list[int]] = {name: [] for name in procs}
    for i in range(-(-args.keystrokes // args.chunk)):
        order = list(procs) if i % 2 == 0 else list(procs)[::-1]
        for name in order:
            p = procs[name]
            assert p.stdin is not None and p.stdout is not None
            p.stdin.write("go\n")
            p.stdin.flush()
            got = [token.split(":") for token in p.stdout.readline().split()]
            mine = [float(c) for c, _ in got]
            calls[name] += mine
            kinds[name] += [int(k) for _, k in got]
            times[name].append(sum(mine) / max(len(mine), 1))
    for p in procs.values():
        assert p.stdin is not None
        p.stdin.close()
        p.wait()
    before, after = np.array(times["before"]), np.array(times["after"])
    ratio = after / before
    rng = np.random.default_rng(0)
    boot = rng.choice(ratio, size=(2000, len(ratio))).mean(axis=1)
    out = {
        "index": args.index,
        "before": str(sides["before"]),
        "after": str(sides["after"]),
        "pythons": pythons,
        "keystrokes": args.keystrokes,
        "chunk": args.chunk,
        "before_us_per_call": float(before.mean()),
        "after_us_per_call": float(after.mean()),
        "ratio_mean": float(ratio.mean()),
        "ratio_median": float(np.median(ratio)),
        "ratio_95": [float(np.percentile(boot, 2.5)), float(np.percentile(boot, 97.5))],
        "percentiles_us": {
            name: {f"p{q:g}": float(np.percentile(calls[name], q)) for q in (50, 90, 99, 99.9)}
            for name in procs
        },
        "chunks": {"before": times["before"], "after": times["after"]},
        "by_kind_us": {},
    }
    lines = []
    for i, name in enumerate(KINDS):
        row = {}
        for side in procs:
            mine = np.array(calls[side])[np.array(kinds[side]) == i]
            row[side] = {
                "calls": int(len(mine)),
                "mean": float(mine.mean()) if len(mine) else 0.0,
                **{
                    f"p{q:g}": float(np.percentile(mine, q)) if len(mine) else 0.0 for q in (50, 99)
                },
            }
        out["by_kind_us"][name] = row
        b, a = row["before"], row["after"]
        lines.append(
            f"  {name:24s} {b['calls']:6d}  {b['mean']:5.0f} -> {a['mean']:5.0f}   "
            f"{b['p50']:5.0f} -> {a['p50']:5.0f}   {b['p99']:5.0f} -> {a['p99']:5.0f}"
        )
    pct = out["percentiles_us"]
    print(
        f"{len(ratio)} chunks of {args.chunk} keystrokes (each ranked without and with history)\n"
        f"mean us per call: before {out['before_us_per_call']:.0f}, "
        f"after {out['after_us_per_call']:.0f}\n"
        f"after / before, paired by chunk: mean {out['ratio_mean']:.3f}, "
        f"median {out['ratio_median']:.3f}, "
        f"95% interval {out['ratio_95'][0]:.3f}-{out['ratio_95'][1]:.3f}\n"
        + "\n".join(
            f"{name:6s} per call p50 / p90 / p99 / p99.9 us: "
            + " / ".join(f"{v:.0f}" for v in pct[name].values())
            for name in procs
        )
        + "\nby keystroke (calls, mean, p50, p99 us, before -> after):\n"
        + "\n".join(lines)
    )
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
