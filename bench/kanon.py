"""What k-anonymity costs: the blended ranker on indexes built with several K, in one run.

Every test keystroke (or the first --limit) through each index's blended ranker, without and
with the user's own history (replayed in time order; a user's history is theirs alone and
never limited by K), against MPC on the K = 1 index (every training query shared, no
contribution bounds: the index of a build before k-anonymity). Prints MRR@10 by prefix bucket
with the ratio to that MPC, and per index what its manifest says was kept; writes JSON.

    .venv/bin/python bench/kanon.py --k 1 2 3 5 [--work DIR] [--index NAME=DIR ...] [--limit N]

`--k`: indexes `WORK/k<K>` (built when missing with `autocomplete build-index --min-users K`
and the default contribution bounds; K = 1 is built with no bounds). `--index NAME=DIR` adds
an index built some other way (e.g. K = 1 with the bounds on).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from blend_quality import DEFAULT_LOG, build, score, table  # noqa: E402

from autocomplete.loader import load_index  # noqa: E402
from indexer.dataset import load_split  # noqa: E402

BASELINE = "MPC (K=1)"
#: build-index flags of the reference index: every training query, counted as issued
NO_PRIVACY = ("--min-users", "1", "--max-repeats-per-day", "0", "--max-queries-per-day", "0")


def indexes(args: argparse.Namespace) -> dict[str, Path]:
    """NAME -> index directory, building the --k ones that are missing."""
    out: dict[str, Path] = {}
    for k in args.k:
        path = Path(args.work) / f"k{k}"
        if not (path / "manifest.json").is_file():
            flags = NO_PRIVACY if k == 1 else ("--min-users", str(k))
            secs = build(args.log, path, "--model", args.model, *flags)
            print(f"built K={k} in {secs:.0f}s -> {path}", file=sys.stderr, flush=True)
        out[f"K={k}"] = path
    for spec in args.index:
        name, sep, path = spec.rpartition("=")
        if not sep:
            raise SystemExit(f"--index wants NAME=DIR, got {spec!r}")
        out[name] = Path(path)
    return out


def kept(manifest: dict[str, Any], test_queries: list[str], labels: Any) -> dict[str, Any]:
    """What an index shares: its K and bounds, kept/dropped counts, coverage of test queries."""
    return {
        "kanon": manifest["build_params"].get("kanon"),
        **manifest["stats"].get("kanon", {}),
        "dev_label_coverage": manifest["stats"].get("dev_label_coverage"),
        "test_label_coverage": sum(labels.id_of(q) >= 0 for q in test_queries) / len(test_queries),
    }


def summary(shares: dict[str, dict[str, Any]]) -> str:
    head = f"{'index':<14}{'K':>3}{'labels':>9}{'endings':>9}{'trans.':>9}{'test cov.':>10}"
    lines = ["What each index shares (test cov.: test queries that are labels)", head]
    for name, s in shares.items():
        lines.append(
            f"{name:<14}{s.get('min_users', 1):>3}{s.get('labels_kept', 0):>9}"
            f"{s.get('endings_kept', 0):>9}{s.get('transitions_kept', 0):>9}"
            f"{s['test_label_coverage']:>10.1%}"
        )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--log", default=str(DEFAULT_LOG))
    ap.add_argument("--k", type=int, nargs="*", default=[1, 2, 3, 5])
    ap.add_argument("--work", default=str(ROOT / "bench/results/indexes/kanon"))
    ap.add_argument("--model", choices=("mpc", "xmr"), default="xmr")
    ap.add_argument("--index", action="append", default=[], metavar="NAME=DIR")
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--out", default=str(ROOT / "bench/results/kanon.json"))
    args = ap.parse_args()
    if 1 not in args.k:
        raise SystemExit("--k must include 1: MPC on the K = 1 index is the baseline")

    paths = indexes(args)
    data = load_split([args.log])
    past = data.train + data.dev
    reference = load_index(paths["K=1"])
    is_label = lambda t: reference.labels.id_of(t) >= 0  # noqa: E731 - "seen": a training query
    test_queries = [q for s in data.test for q in s.queries]
    rankers: list[tuple[str, Any, Any]] = [(BASELINE, reference.mpc, None)]
    shares: dict[str, dict[str, Any]] = {}
    for name, path in paths.items():
        idx = load_index(path)
        shares[name] = kept(idx.files.manifest, test_queries, idx.labels)
        rankers += [(f"{name} anonymous", idx.ranker, None), (f"{name} personal", idx.ranker, past)]
    rows = score(rankers, data.test, is_label, args.limit)
    print(table(rows, BASELINE))
    print()
    print(summary(shares))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(
        json.dumps(
            {"indexes": {n: str(p) for n, p in paths.items()}, "shares": shares, "rows": rows},
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
