"""What each production feature does to quality and latency, measured in one replay.

Features: fresh completions, typo tolerance, the blocklist, dedupe and recent searches (empty
prefix). The replay types every test query of the shared split
keystroke by keystroke, in global time order, through the blended index, and assembles each
reply the way the server does (`autocomplete.server.assemble`), with and without the feature:

* freshness: every test query is counted, at its own logged time, in a `MemoryFreshCounts`
  (6 h half-life, the server's default; dev queries are counted first as warm-up, as if the
  server had run then too, `--fresh-warmup none` skips that); a `FreshIndex` snapshot is
  rebuilt at every `--fresh-refresh-s` boundary from what was submitted strictly before it
  (default 60 simulated s, coarser than the server's 2 s to keep the run short), and each
  keystroke's reply is merged with `merge_fresh`. A query is counted once per
  session (the server counts once per connection), and never before its own timestamp, so
  the query being typed is not in the snapshot its keystrokes see.
* typo: the blended ranker with and without its spelling-correction source (as bench/typo.py).
* blocklist: `allowed_completions` with `bench/blocklist-example.txt` against without.
* dedupe: the ranker's items as they come against `unique()` of them.
* recent searches: when the box gets focus before each test query, the server answers the
  empty prefix with `recent_searches` (the session's earlier queries, then the user's history
  replayed in time order from train+dev, as `autocomplete.history` does); scored against the
  query then typed, next to MPC's answer to the empty prefix (the most popular queries).

The fresh replay is `autocomplete.fresh_replay`; quality is `indexer.metrics.QualityReport`.

Keystrokes are ranked as for a visitor without a user id (the blend with session context, no
personal history). Latencies are of the in-process reply (ranking + assembly, no network or
store), per keystroke, p50/p99 in microseconds; "added" is the p50/p99 of the per-keystroke
difference. With/without calls run in a shuffled order per keystroke so cache warmth favours
neither.

    .venv/bin/python bench/features.py [--index DIR] [--log LOG] [--limit N] [--fresh-refresh-s S]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from autocomplete.blend import BlendRanker  # noqa: E402
from autocomplete.blocklist import Blocklist  # noqa: E402
from autocomplete.evaluate import latency_summary  # noqa: E402
from autocomplete.fresh_replay import (  # noqa: E402
    FreshReplay,
    grouped_by_time,
    submits_in_time_order,
)
from autocomplete.history import HistoryReplay  # noqa: E402
from autocomplete.loader import LoadedIndex, load_index  # noqa: E402
from autocomplete.model.buckets import NAMES  # noqa: E402
from autocomplete.ranking import ANONYMOUS, Completion, Context  # noqa: E402
from autocomplete.server.assemble import (  # noqa: E402
    EXTRA,
    allowed_completions,
    merge_fresh,
    recent_searches,
    unique,
)
from autocomplete.server.connection import MAX_TRACKED_QUERIES  # noqa: E402
from indexer.dataset import SplitSessions, load_split  # noqa: E402
from indexer.metrics import QualityReport  # noqa: E402
from indexer.sessions import query_examples  # noqa: E402
from session_store.base import StoreConfig  # noqa: E402

DEFAULT_LOG = ROOT.parent / "shared/data/aol/aol-top1000-2006-03-01_05-16.tsv.gz"
DEFAULT_INDEX = Path("/tmp/final_blend")
BUILD_INDEX = Path("/tmp/features_blend")
DEFAULT_BLOCKLIST = ROOT / "bench" / "blocklist-example.txt"
COLS = ["overall", *NAMES]
#: Queries a session keeps for context and recent searches (the server's default).
MAX_RECENT = StoreConfig().max_recent


# --- measurement -----------------------------------------------------------------------------

#: Each feature as (label, reply without it, reply with it): names of the per-keystroke
#: outcomes recorded by `replay`. Quality and latency of a reply are recorded under its name.
FEATURES: dict[str, tuple[str, str, str]] = {
    "fresh": ("freshness (fresh merge)", "base", "fresh"),
    "typo": ("typo tolerance", "no_typo", "base"),
    "blocklist": ("blocklist (example list)", "base", "blocked"),
    "dedupe": ("dedupe (unique)", "raw", "base"),
}


@dataclass
class Outcomes:
    """Per reply: its quality report, and per keystroke its reciprocal rank and latency."""

    k: int = 10
    reports: dict[str, QualityReport] = field(default_factory=dict)
    rr: defaultdict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    lat: defaultdict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    counts: dict[str, int] = field(default_factory=dict)

    def add(
        self, reply: str, prefix: str, target: str, items: Sequence[Completion], seconds: float
    ) -> None:
        report = self.reports.setdefault(reply, QualityReport(self.k))
        self.rr[reply].append(report.add(prefix, target, [c.text for c in items], False))
        self.lat[reply].append(seconds)

    def count(self, name: str, yes: bool) -> None:
        self.counts[name] = self.counts.get(name, 0) + int(yes)

    def arm(self, reply: str) -> dict[str, Any]:
        return {
            "reply": reply,
            "quality": self.reports[reply].to_dict()["all"],
            "latency_us": latency_summary(self.lat[reply]),
        }

    def feature(self, name: str) -> dict[str, Any]:
        _, off, on = FEATURES[name]
        a, b = np.asarray(self.rr[off]), np.asarray(self.rr[on])
        # Per keystroke, on minus off: exactly the merge or unique() where the on reply is the
        # off reply plus a step; a paired difference of two calls otherwise.
        added = np.asarray(self.lat[on]) - np.asarray(self.lat[off])
        return {
            "off": self.arm(off),
            "on": self.arm(on),
            "added_latency_us": latency_summary(added),
            "keystrokes_better": int((b > a).sum()),
            "keystrokes_worse": int((b < a).sum()),
        }


@dataclass
class EmptyPrefix:
    """Answers to the empty prefix, scored against the query typed next."""

    report: QualityReport = field(default_factory=QualityReport)
    empty: int = 0
    lat: list[float] = field(default_factory=list)

    def add(self, target: str, items: Sequence[Completion], seconds: float) -> None:
        self.report.add("", target, [c.text for c in items], False)
        self.empty += not items
        self.lat.append(seconds)

    def to_dict(self) -> dict[str, Any]:
        overall = self.report.to_dict()["all"].get("overall", {"n": 0})
        return {
            "queries": overall["n"],
            **{m: overall.get(m, 0.0) for m in ("mrr@10", "success@1", "success@10")},
            "empty_replies": self.empty,
            "latency_us": latency_summary(self.lat),
        }


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


async def replay(
    idx: LoadedIndex,
    data: SplitSessions,
    blocks: Callable[[str], bool],
    *,
    refresh_s: float,
    warmup: bool,
    limit: int | None,
    k: int = 10,
    seed: int = 0,
) -> dict[str, Any]:
    ranker = idx.ranker
    if not isinstance(ranker, BlendRanker) or ranker.gen.typo is None:
        sys.exit("features bench needs a blended index with a typo source (no --no-blend)")
    gen = ranker.gen
    typo = gen.typo
    rng = random.Random(seed)
    clock = time.perf_counter

    fresh = FreshReplay(refresh_s, MAX_TRACKED_QUERIES)
    t0 = clock()
    if warmup:
        for sub in submits_in_time_order(data.dev):
            s = data.dev[sub.session]
            await fresh.submit(("dev", sub.session), s.queries[sub.j], sub.time, s.user)
    warm_s = clock() - t0
    histories = HistoryReplay()
    for s in sorted(data.train + data.dev, key=lambda s: s.times[0]):
        for q, t in zip(s.queries, s.times, strict=True):
            histories.record(s.user, q, t)

    out = Outcomes(k)
    recent = {
        "MPC (most popular)": EmptyPrefix(),
        "recent searches: session": EmptyPrefix(),
        "recent searches: session + history": EmptyPrefix(),
        "session + history, then MPC": EmptyPrefix(),
    }
    mpc_empty = idx.mpc.complete(ANONYMOUS, "", k)
    fresh_s = 0.0
    n = 0
    test = data.test
    t_start = clock()
    for group in grouped_by_time(submits_in_time_order(test)):
        if limit is not None and n >= limit:
            break
        tf = clock()
        snap = await fresh.snapshot(group[0].time)
        fresh_s += clock() - tf
        for sub in group:
            s = test[sub.session]
            q = s.queries[sub.j]
            # The box got focus: the empty prefix, before the first keystroke of q.
            before = s.queries[max(0, sub.j - MAX_RECENT) : sub.j]
            hist = histories.snapshot(s.user)
            recent["MPC (most popular)"].add(q, *timed(lambda: idx.mpc.complete(ANONYMOUS, "", k)))
            recent["recent searches: session"].add(
                q,
                *timed(lambda: recent_searches(before, (), k)),  # noqa: B023
            )
            mine, secs = timed(lambda: recent_searches(before, hist, k))  # noqa: B023
            recent["recent searches: session + history"].add(q, mine, secs)
            filled, fill_s = timed(lambda: unique([*mine, *mpc_empty])[:k])  # noqa: B023
            recent["session + history, then MPC"].add(q, filled, secs + fill_s)
            for ex in query_examples(s, sub.j):
                if limit is not None and n >= limit:
                    break
                n += 1
                ctx, prefix = Context(ex.context, (), ex.time), ex.prefix

                def rank(want: int) -> list[Completion]:
                    return ranker.complete(ctx, prefix, want)  # noqa: B023

                def no_typo() -> list[Completion]:
                    gen.typo = None
                    try:
                        return allowed_completions(rank, k, None)  # noqa: B023
                    finally:
                        gen.typo = typo

                calls: dict[str, tuple[Any, float]] = {}
                jobs: list[tuple[str, Callable[[], Any]]] = [
                    ("raw", lambda: rank(k)),  # noqa: B023
                    ("no_typo", no_typo),
                    ("blocked", lambda: allowed_completions(rank, k, blocks)),  # noqa: B023
                ]
                rng.shuffle(jobs)
                for name, job in jobs:
                    calls[name] = timed(job)
                raw, raw_s = calls["raw"]
                # What the server sends without a blocklist: allowed_completions(rank, k, None).
                base, uniq_s = timed(lambda: unique(raw)[:k])  # noqa: B023
                base_s = raw_s + uniq_s
                merged, merge_s = timed(
                    lambda: merge_fresh(base, snap.extending(prefix, k + EXTRA), k)  # noqa: B023
                )
                replies = {
                    "raw": (raw[:k], raw_s),
                    "base": (base, base_s),
                    "no_typo": calls["no_typo"],
                    "blocked": calls["blocked"],
                    "fresh": (merged, base_s + merge_s),
                }
                for name, (items, secs) in replies.items():
                    out.add(name, prefix, q, items, secs)
                out.count("replies_with_duplicates", len(base) < len(raw[:k]))
                out.count("replies_with_corrections", any(c.corrected for c in base))
                out.count("replies_with_blocked_items", any(blocks(c.text) for c in base))
                out.count("targets_blocked", blocks(q))
                out.count("replies_with_fresh_items", any(c.source == "fresh" for c in merged))
                out.count(
                    "targets_from_fresh",
                    any(c.source == "fresh" and c.text == q for c in merged),
                )
                if n % 20000 == 0:
                    rate = n / (clock() - t_start)
                    print(f"  {n} keystrokes, {rate:.0f}/s", file=sys.stderr, flush=True)
        tf = clock()
        for sub in group:
            s = test[sub.session]
            await fresh.submit(("test", sub.session), s.queries[sub.j], sub.time, s.user)
            histories.record(s.user, s.queries[sub.j], sub.time)
        fresh_s += clock() - tf
    return {
        "keystrokes": n,
        "replay_s": clock() - t_start,
        "fresh_replay": {
            "refresh_s": refresh_s,
            "half_life_s": fresh.config.half_life_s,
            "warmup": "dev" if warmup else "none",
            "warmup_s": warm_s,
            "snapshots": fresh.refreshes,
            "snapshot_and_count_s": fresh_s,
        },
        "features": {name: out.feature(name) for name in FEATURES},
        "counts": out.counts,
        "recent_searches": {name: r.to_dict() for name, r in recent.items()},
    }


# --- the index and the tables ----------------------------------------------------------------


def pick_index(arg: str | None, log: str) -> Path:
    """--index, else /tmp/final_blend when it is a train-split blended MPC index, else a build."""
    if arg:
        return Path(arg)
    for path in (DEFAULT_INDEX, BUILD_INDEX):
        try:
            m = json.loads((path / "manifest.json").read_text())
        except (OSError, ValueError):
            continue
        bp = m.get("build_params", {})
        if m.get("model") == "mpc" and "blend.json" in m.get("files", {}) and not bp.get("use_all"):
            return path
    print(f"building {BUILD_INDEX} (a few minutes)", file=sys.stderr, flush=True)
    subprocess.run(
        [sys.executable, "-m", "autocomplete.cli", "build-index", "--log", log,
         "--out", str(BUILD_INDEX), "--model", "mpc", "--quiet"],
        check=True,
        cwd=ROOT,
    )  # fmt: skip
    return BUILD_INDEX


def _lat(arm: dict[str, Any]) -> str:
    return f"{arm['latency_us']['p50']:.0f} / {arm['latency_us']['p99']:.0f}"


def _mrr(arm: dict[str, Any]) -> float:
    return float(arm["quality"]["overall"]["mrr@10"])


NOTES = {
    "fresh": "replies with a fresh item {replies_with_fresh_items}; "
    "a fresh item is the target {targets_from_fresh}",
    "typo": "replies with a correction {replies_with_corrections}",
    "blocklist": "replies with a blocked item {replies_with_blocked_items}; "
    "keystrokes whose target is blocked {targets_blocked}",
    "dedupe": "replies with duplicates {replies_with_duplicates}",
}


def tables(res: dict[str, Any]) -> str:
    n = res["keystrokes"]
    lines = [
        f"{n} test keystrokes; MRR@10 (all targets); reply latency p50 / p99 us; added: "
        "p50 / p99 of the per-keystroke difference",
        "",
        "| feature | MRR@10 off | MRR@10 on | change | keystrokes better / worse | "
        "latency off | latency on | added | notes |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    counts = {c: f"{v} ({v / max(n, 1):.1%})" for c, v in res["counts"].items()}
    for name, f in res["features"].items():
        off, on = _mrr(f["off"]), _mrr(f["on"])
        change = f"{(on - off) / off:+.2%}" if off else "n/a"
        notes = NOTES[name].format(**counts)
        lines.append(
            f"| {FEATURES[name][0]} | {off:.4f} | {on:.4f} | {change} | {f['keystrokes_better']} / "
            f"{f['keystrokes_worse']} | {_lat(f['off'])} | {_lat(f['on'])} | "
            f"{_lat({'latency_us': f['added_latency_us']})} | {notes} |"
        )
    f = res["features"]["fresh"]
    lines += [
        "",
        "Freshness by typed-prefix length, MRR@10 off -> on:",
        "",
        "| | " + " | ".join(COLS) + " |",
        "| --- |" + " --- |" * len(COLS),
    ]
    for arm in ("off", "on"):
        q = f[arm]["quality"]
        lines.append(f"| {arm} | " + " | ".join(f"{q[c]['mrr@10']:.4f}" for c in COLS) + " |")
    qo, qn = f["off"]["quality"], f["on"]["quality"]
    lines.append(
        "| change | "
        + " | ".join(f"{(qn[c]['mrr@10'] - qo[c]['mrr@10']) / qo[c]['mrr@10']:+.2%}" for c in COLS)
        + " |"
    )
    rs = res["recent_searches"]
    queries = next(iter(rs.values()))["queries"]
    lines += [
        "",
        f"Empty prefix (box focused, before typing; {queries} test queries), scored against the "
        "query then typed:",
        "",
        "| answer | MRR@10 | success@1 | success@10 | empty replies | latency p50 / p99 us |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for name, r in rs.items():
        lines.append(
            f"| {name} | {r['mrr@10']:.4f} | {r['success@1']:.4f} | {r['success@10']:.4f} | "
            f"{r['empty_replies']} ({r['empty_replies'] / max(r['queries'], 1):.1%}) | "
            f"{r['latency_us']['p50']:.1f} / {r['latency_us']['p99']:.1f} |"
        )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--log", default=str(DEFAULT_LOG))
    ap.add_argument("--index", help="blended index built from --log's train part "
                    f"(default {DEFAULT_INDEX} if usable, else build {BUILD_INDEX})")  # fmt: skip
    ap.add_argument("--limit", type=int, default=None, help="score only the first N keystrokes")
    ap.add_argument("--fresh-refresh-s", type=float, default=60.0,
                    help="snapshot period in simulated seconds (the server's is 2; default 60: "
                    "each snapshot costs ~50 ms, so 2 s makes the full run ~27 min instead "
                    "of ~16, and gave the same MRR on the first 30,000 keystrokes)")  # fmt: skip
    ap.add_argument("--fresh-warmup", choices=("dev", "none"), default="dev")
    ap.add_argument("--blocklist", default=str(DEFAULT_BLOCKLIST))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=str(ROOT / "bench/results/features.json"))
    args = ap.parse_args()

    path = pick_index(args.index, args.log)
    idx = load_index(path)
    data = load_split([args.log])
    events = idx.files.manifest.get("stats", {}).get("reader", {}).get("events")
    if events is not None and events != data.stats.events:
        sys.exit(f"{path} was built from another log ({events} events, {args.log} has "
                 f"{data.stats.events}); pass --index or remove it")  # fmt: skip
    blocklist = Blocklist.load(args.blocklist)
    print(f"index {idx.version} ({path}); blocklist {blocklist.rules} rules", file=sys.stderr)
    t = time.perf_counter()
    res = asyncio.run(
        replay(
            idx,
            data,
            blocklist.blocks,
            refresh_s=args.fresh_refresh_s,
            warmup=args.fresh_warmup == "dev",
            limit=args.limit,
            seed=args.seed,
        )
    )
    res["meta"] = {
        "index": idx.version,
        "index_path": str(path),
        "log": args.log,
        "blocklist": args.blocklist,
        "blocklist_rules": blocklist.rules,
        "limit": args.limit,
        "seconds": time.perf_counter() - t,
    }
    print(tables(res))
    fr = res["fresh_replay"]
    print(
        f"\nfresh replay: snapshot every {fr['refresh_s']:g} simulated s, "
        f"{fr['snapshots']} snapshots, warm-up {fr['warmup']}; "
        f"whole run {res['meta']['seconds']:.0f}s"
    )
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
