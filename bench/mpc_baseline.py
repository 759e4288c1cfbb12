"""MPC on the shared time split: build time, peak memory, quality table, ranking latency.

    .venv/bin/python bench/mpc_baseline.py [--log ../shared/data/aol/...tsv.gz] [--limit N]

Builds in a child process (so its peak RSS is the build's alone), evaluates every test
keystroke in this one, prints the table and writes bench/results/mpc_baseline.json.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from autocomplete.evaluate import evaluate  # noqa: E402
from autocomplete.loader import load_index  # noqa: E402
from indexer.dataset import load_split  # noqa: E402
from indexer.metrics import format_table  # noqa: E402

DEFAULT_LOG = ROOT.parent / "shared/data/aol/aol-top1000-2006-03-01_05-16.tsv.gz"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--log", default=str(DEFAULT_LOG))
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--out", default=str(ROOT / "bench/results/mpc_baseline.json"))
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        idx = Path(tmp) / "mpc"
        t0 = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "autocomplete.cli",
                "build-index",
                "--log",
                args.log,
                "--out",
                str(idx),
                "--model",
                "mpc",
                "--quiet",
            ],
            check=True,
            cwd=ROOT,
        )
        build_s = time.perf_counter() - t0
        build_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        index = load_index(idx)
        data = load_split([args.log])
        res = evaluate(
            index.ranker, data.test, lambda t: index.labels.id_of(t) >= 0, limit=args.limit
        )
        size = sum(p.stat().st_size for p in idx.iterdir())
    out = {
        "model": "mpc",
        "build_s": build_s,
        "build_peak_rss_mb": build_rss,
        "index_bytes": size,
        "labels": len(index.labels),
        **res.to_dict(),
    }
    print(format_table(res.quality, f"MPC on test: {res.examples} keystrokes"))
    print(
        f"build {build_s:.1f}s, peak RSS {build_rss:.0f} MB, index {size / 1e6:.1f} MB, "
        f"{len(index.labels)} labels; ranking p50 {res.latency_us['p50']:.1f}us "
        f"p99 {res.latency_us['p99']:.1f}us mean {res.latency_us['mean']:.1f}us"
    )
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
