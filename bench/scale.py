"""How the index build grows with the log, single-process or partitioned: wall, memory, size.

The base (1x) is a fraction of the real log's users (`--base-fraction`, users kept by a stable
hash of their id, every event of a kept user); each factor N is that base enlarged N times by
`scripts/enlarge_log.py` (real sessions under new ids and dates, partly recombined queries).
The enlarged logs are SYNTHETIC: for scaling measurements only, never for quality. Each one is
built by `autocomplete build-index --quiet` as a subprocess, one build after the other, and the
growth exponents are fitted by least squares in log-log space: wall ~ rows^a, peak RSS ~ rows^b,
labels ~ rows^c. Prints a table and writes JSON (`--out`) after every build. The logs are a
function of the real log, `--base-fraction` and `--seed` (user sample and enlargement).

    .venv/bin/python bench/scale.py --base-fraction 0.0625 --factors 1 2 4 8 --model xmr

Measured per build:
- rows: events of the input log (one row per event: the sample and the enlarged logs are
  written with click duplicates already collapsed); distinct: its distinct queries.
- wall: the build subprocess, start to exit; cpu: its user + system time and its reaped
  children's (from the same rusage as the peak).
- peak RSS (max process): exact. The build is reaped with `os.wait4`, whose rusage covers the
  build process and every descendant it waited for (the --xmr-workers training processes);
  Linux's `ru_maxrss` there is the largest peak of any one process of the tree, not a sum.
  (`getrusage(RUSAGE_CHILDREN)` deltas cannot give it: that maximum never goes down between
  builds.)
- peak RSS (tree, sampled): the sum of VmRSS over the build's process tree read from /proc
  every `--sample-s` seconds; approximate (a peak between samples is missed, and pages shared
  by forked workers are counted once per process).
- driver MB: the peak RSS of the build process itself (VmHWM, read from /proc at every
  sample; exact up to growth in its last `--sample-s`). worker MB (partitioned builds): the
  largest peak RSS of any Dask worker process, as the workers report it at the end of each
  task (`getrusage`, exact; the manifest's `stats.xmr.partition.worker_peak_rss_mb`).
- index MB: the files of the index directory; labels: the manifest's `label_count`.

`--build single` (default) is `build-index` as it is (XR-Linear training may fork
`--xmr-workers` processes); `--build partitioned` adds `--partitions N --dask-workers W
--worker-memory SIZE --buckets B`: one Dask task per top-level trie branch on a local cluster
of W one-thread workers, each bounded to SIZE (`indexer.xmr.partition`), and a driver that
streams the log through B buckets of users (`indexer.stream`).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from enlarge_log import EnlargeParams, enlarge, write_log  # noqa: E402

from indexer.querylog import QueryEvent, read_events  # noqa: E402

DEFAULT_LOG = ROOT.parent / "shared/data/aol/aol-top1000-2006-03-01_05-16.tsv.gz"
MB = 1024 * 1024


def keep_user(user: str, fraction: float, seed: int) -> bool:
    """Whether `user` is in the sample: a stable hash of seed and id, below `fraction`."""
    digest = hashlib.blake2b(f"{seed}:{user}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") < fraction * 2**64


def fit_exponent(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    """The slope of log(ys) on log(xs), least squares; None with fewer than two sizes."""
    if len(set(xs)) < 2:
        return None
    return float(np.polyfit(np.log(xs), np.log(ys), 1)[0])


def _counted(events: Iterable[QueryEvent], distinct: set[str]) -> Iterator[QueryEvent]:
    for e in events:
        distinct.add(e.query)
        yield e


def _tree_rss(root: int, hwm: dict[int, int]) -> int:
    """The summed VmRSS (bytes) of `root` and its descendants, from /proc; records each
    process's VmHWM (its own peak RSS so far) in `hwm`."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:
            continue
        ppid = int(stat[stat.rfind(b")") + 2 :].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        todo += children.get(pid, [])
        try:
            with open(f"/proc/{pid}/status", "rb") as fh:
                for line in fh:
                    if line.startswith(b"VmHWM:"):
                        hwm[pid] = max(hwm.get(pid, 0), int(line.split()[1]) * 1024)
                    elif line.startswith(b"VmRSS:"):
                        total += int(line.split()[1]) * 1024
                        break
        except OSError:
            continue
    return total


def build(log: Path, out: Path, extra: Sequence[str], sample_s: float) -> dict[str, float]:
    """Run build-index on `log`; wall, CPU, exact max-process and sampled tree peak RSS."""
    cmd = [sys.executable, "-m", "autocomplete.cli", "build-index", "--log", str(log)]
    cmd += ["--out", str(out), "--quiet", *extra]
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT)
    tree_peak, done = 0, threading.Event()
    hwm: dict[int, int] = {}

    def sample() -> None:
        nonlocal tree_peak
        while not done.wait(sample_s):
            tree_peak = max(tree_peak, _tree_rss(proc.pid, hwm))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait
    done.set()
    sampler.join()
    if proc.returncode != 0:
        raise SystemExit(f"build-index failed ({proc.returncode}): {' '.join(cmd)}")
    return {
        "wall_s": wall,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "peak_rss_mb": usage.ru_maxrss * 1024 / MB,  # Linux: KiB
        "tree_rss_sampled_mb": tree_peak / MB,
        "driver_rss_mb": hwm.get(proc.pid, 0) / MB,
    }


def dir_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / MB


def table(rows: list[dict[str, Any]], exps: dict[str, float | None]) -> str:
    head = (
        f"{'factor':>6}{'rows':>10}{'distinct':>10}{'labels':>9}{'wall s':>8}{'cpu s':>8}"
        f"{'peak MB':>9}{'driver MB':>10}{'worker MB':>10}{'tree MB':>9}{'index MB':>10}"
    )
    lines = [head]
    for r in rows:
        worker = "-" if r["worker_rss_mb"] is None else f"{r['worker_rss_mb']:.0f}"
        lines.append(
            f"{r['factor']:>6}{r['rows']:>10,}{r['distinct']:>10,}{r['labels']:>9,}"
            f"{r['wall_s']:>8.1f}{r['cpu_s']:>8.1f}{r['peak_rss_mb']:>9.0f}"
            f"{r['driver_rss_mb']:>10.0f}{worker:>10}"
            f"{r['tree_rss_sampled_mb']:>9.0f}{r['index_mb']:>10.1f}"
        )
    lines.append(
        "growth exponents vs rows: "
        + ", ".join(f"{k} {'-' if v is None else f'{v:.2f}'}" for k, v in exps.items())
    )
    return "\n".join(lines)


def exponents(rows: list[dict[str, Any]]) -> dict[str, float | None]:
    sizes = [r["rows"] for r in rows]
    return {
        "wall": fit_exponent(sizes, [r["wall_s"] for r in rows]),
        "peak RSS": fit_exponent(sizes, [r["peak_rss_mb"] for r in rows]),
        "tree RSS": fit_exponent(sizes, [r["tree_rss_sampled_mb"] for r in rows]),
        "labels": fit_exponent(sizes, [r["labels"] for r in rows]),
        "index size": fit_exponent(sizes, [r["index_mb"] for r in rows]),
    }


def save(
    args: argparse.Namespace,
    users: int,
    rows: list[dict[str, Any]],
    exps: dict[str, float | None],
) -> None:
    args.out.parent.mkdir(parents=True, exist_ok=True)
    params = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}
    host = {"cpus": os.cpu_count(), "loadavg": os.getloadavg(), "python": platform.python_version()}
    result = {"params": params, "base_users": users, "host": host, "rows": rows, "exponents": exps}
    args.out.write_text(json.dumps(result, indent=1))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--log", type=Path, default=DEFAULT_LOG, help="the real AOL-format log")
    ap.add_argument("--base-fraction", type=float, default=0.125, help="users in the 1x base")
    ap.add_argument("--factors", type=int, nargs="+", default=[1, 2, 4, 8])
    ap.add_argument("--model", choices=("xmr", "mpc"), default="xmr")
    ap.add_argument("--min-users", help="passed to build-index (default: its own)")
    ap.add_argument("--build", choices=("single", "partitioned"), default="single")
    ap.add_argument("--partitions", type=int, default=8, help="partitioned: branches")
    ap.add_argument("--dask-workers", type=int, default=2, help="partitioned: local workers")
    ap.add_argument("--worker-memory", default="4GiB", help="partitioned: limit per worker")
    ap.add_argument("--buckets", type=int, help="partitioned: the driver's buckets of users")
    ap.add_argument("--work", type=Path, default=ROOT / "bench/results/scale")
    ap.add_argument("--seed", type=int, default=0, help="user sample and enlargement seed")
    ap.add_argument("--sample-s", type=float, default=0.2, help="tree RSS sampling period")
    ap.add_argument("--out", type=Path, default=ROOT / "bench/results/scale.json")
    args = ap.parse_args()
    if not 0 < args.base_fraction <= 1:
        raise SystemExit("--base-fraction must be in (0, 1]")

    base = [e for e in read_events([args.log]) if keep_user(e.user, args.base_fraction, args.seed)]
    users = len({e.user for e in base})
    print(f"base: {len(base):,} events of {users:,} users ({args.base_fraction:g} of the log)")
    extra = ["--model", args.model]
    if args.min_users is not None:
        extra += ["--min-users", args.min_users]
    if args.build == "partitioned":
        extra += ["--partitions", str(args.partitions), "--dask-workers", str(args.dask_workers)]
        extra += ["--worker-memory", args.worker_memory]
        if args.buckets is not None:
            extra += ["--buckets", str(args.buckets)]
    args.work.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    exps: dict[str, float | None] = {}
    for factor in args.factors:
        kind = "sample" if factor == 1 else "synthetic"
        log = args.work / f"aol-f{args.base_fraction:g}-x{factor}.{kind}.tsv.gz"
        distinct: set[str] = set()
        n = write_log(_counted(enlarge(base, EnlargeParams(factor, seed=args.seed)), distinct), log)
        index = args.work / f"index-{args.build}-x{factor}"
        cost = build(log, index, extra, args.sample_s)
        manifest = json.loads((index / "manifest.json").read_text())
        row = {"factor": factor, "log": str(log), "rows": n, "distinct": len(distinct)}
        part = manifest["stats"].get("xmr", {}).get("partition")
        row |= {"labels": manifest["label_count"], **cost, "index_mb": dir_mb(index)}
        row |= {"build": args.build, "worker_rss_mb": part and part["worker_peak_rss_mb"]}
        rows.append(row)
        print(
            f"x{factor}: {n:,} rows, {row['labels']:,} labels, {cost['wall_s']:.0f} s, "
            f"{cost['peak_rss_mb']:.0f} MB",
            flush=True,
        )
        exps = exponents(rows)
        save(args, users, rows, exps)  # after every build: a stopped run keeps what it measured
    print(table(rows, exps))
    print(f"-> {args.out}")


if __name__ == "__main__":
    main()
