"""What each production feature does to quality and latency, measured in one replay.

Features (issue 8): fresh completions, typo tolerance, the blocklist, dedupe, recent searches
(empty prefix) and highlighting offsets. The replay types every test query of the shared split
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
  replayed in time order from train+dev, as `autocomplete.personal` does); scored against the
  query then typed, next to MPC's answer to the empty prefix (the most popular queries).
* highlighting: the `completions` frame with `"match"` offsets against the same frame without.

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
import math
import random
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from autocomplete.blocklist import Blocklist  # noqa: E402
from autocomplete.fresh import EMPTY, FreshIndex  # noqa: E402
from autocomplete.loader import LoadedIndex, load_index  # noqa: E402
from autocomplete.personal import PersonalHistory  # noqa: E402
from autocomplete.ranking import Completion  # noqa: E402
from autocomplete.server.assemble import (  # noqa: E402
    EXTRA,
    allowed_completions,
    merge_fresh,
    recent_searches,
    unique,
)
from autocomplete.server.connection import MAX_TRACKED_QUERIES  # noqa: E402
from autocomplete.server.protocol import completions_frame  # noqa: E402
from indexer.dataset import SplitSessions, load_split  # noqa: E402
from indexer.metrics import BUCKETS, reciprocal_rank  # noqa: E402
from indexer.sessions import Session, query_examples  # noqa: E402
from session_store.base import StoreConfig  # noqa: E402
from session_store.fresh import FreshConfig, MemoryFreshCounts  # noqa: E402

DEFAULT_LOG = ROOT.parent / "shared/data/aol/aol-top1000-2006-03-01_05-16.tsv.gz"
DEFAULT_INDEX = Path("/tmp/final_blend")
BUILD_INDEX = Path("/tmp/features_blend")
DEFAULT_BLOCKLIST = ROOT / "bench" / "blocklist-example.txt"
COLS = ["overall", *(b for b, _, _ in BUCKETS)]
#: Queries a session keeps for context and recent searches (the server's default).
MAX_RECENT = StoreConfig().max_recent
#: Queries one connection may add to fresh counts, as the server bounds it.
MAX_TRACKED = MAX_TRACKED_QUERIES


# --- the time-ordered replay (pure; tested in tests/bench/test_features.py) ---------------


@dataclass(frozen=True, order=True)
class Submit:
    """The j-th query of `sessions[session]`, submitted at `time`."""

    time: float
    session: int
    j: int


def submits_in_time_order(sessions: Sequence[Session]) -> list[Submit]:
    """Every query of every session, by time (ties: session, then position)."""
    return sorted(Submit(t, i, j) for i, s in enumerate(sessions) for j, t in enumerate(s.times))


def grouped_by_time(submits: Sequence[Submit]) -> Iterator[list[Submit]]:
    """Runs of submits with the same timestamp: none of them may see another as fresh."""
    group: list[Submit] = []
    for s in submits:
        if group and s.time != group[0].time:
            yield group
            group = []
        group.append(s)
    if group:
        yield group


class FreshReplay:
    """Fresh counts as one server worker sees them, on a simulated clock.

    Call `snapshot(t)` for keystrokes at time t, then `submit(...)` the queries submitted at
    t; times must not go backwards. The server swaps in a new `FreshIndex` every `refresh_s`
    from what the store holds at that moment; here the snapshot of refresh time r is built
    from the submits with time < r (the first call at or after r comes before any submit at
    or after r), read with `now=r`. So a keystroke at t never sees a submit from t or later.
    """

    def __init__(self, refresh_s: float, config: FreshConfig | None = None) -> None:
        if not refresh_s > 0:
            raise ValueError(f"refresh_s must be > 0, got {refresh_s}")
        self.refresh_s = refresh_s
        self.config = config if config is not None else FreshConfig()
        self.counts = MemoryFreshCounts(self.config)
        self.index: FreshIndex = EMPTY
        self.refreshes = 0
        self._refreshed_at = -math.inf
        self._last_time = -math.inf
        self._counted: defaultdict[object, set[str]] = defaultdict(set)

    def _check_time(self, t: float) -> None:
        if t < self._last_time:
            raise ValueError(f"time went backwards: {t} after {self._last_time}")
        self._last_time = t

    async def snapshot(self, t: float) -> FreshIndex:
        """The snapshot a keystroke at time `t` is merged with."""
        self._check_time(t)
        r = math.floor(t / self.refresh_s) * self.refresh_s
        if r > self._refreshed_at:
            top = await self.counts.top(self.config.max_items, now=r)
            self.index = FreshIndex(top, self.config.max_items)
            self._refreshed_at = r
            self.refreshes += 1
        return self.index

    async def submit(self, connection: object, query: str, t: float, who: str) -> bool:
        """Count `query` submitted at `t` on `connection` by user `who`; False when the server
        would not (the connection counted it already or has counted too many queries, or the
        user counted it in this window already, or is over their quota)."""
        self._check_time(t)
        seen = self._counted[connection]
        if query in seen or len(seen) >= MAX_TRACKED:
            return False
        seen.add(query)
        return await self.counts.add(query, f"user:{who}", now=t)


def frame_without_match(request_id: int, prefix: str, items: Sequence[Completion]) -> str:
    """The `completions` frame as it was before highlighting offsets (no "match" field)."""
    out = []
    for c in items:
        item: dict[str, Any] = {"text": c.text, "score": float(c.score), "source": c.source}
        if c.corrected:
            item["corrected"] = True
        if c.typed >= 0:
            item["typed"] = c.typed
        out.append(item)
    frame = {"type": "completions", "id": request_id, "prefix": prefix, "items": out}
    frame["took_ms"] = 0.1
    return json.dumps(frame, ensure_ascii=False, separators=(",", ":"))


# --- measurement -----------------------------------------------------------------------------

#: Each feature as (label, reply without it, reply with it): names of the per-keystroke
#: outcomes recorded by `replay`. Quality and latency of a reply are recorded under its name.
FEATURES: dict[str, tuple[str, str, str]] = {
    "fresh": ("freshness (fresh merge)", "base", "fresh"),
    "typo": ("typo tolerance", "no_typo", "base"),
    "blocklist": ("blocklist (example list)", "base", "blocked"),
    "dedupe": ("dedupe (unique)", "raw", "base"),
    "highlight": ("highlighting offsets", "frame_without_match", "frame"),
}
#: Replies whose items are those of another (highlighting changes the frame, not the items).
SAME_ITEMS = {"frame": "base", "frame_without_match": "base"}


@dataclass
class Outcomes:
    """Per keystroke: the prefix bucket, and for each reply its reciprocal rank and latency."""

    bucket: list[int] = field(default_factory=list)
    rr: defaultdict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    lat: defaultdict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    counts: dict[str, int] = field(default_factory=dict)

    def count(self, name: str, yes: bool) -> None:
        self.counts[name] = self.counts.get(name, 0) + int(yes)

    def quality(self, reply: str) -> dict[str, dict[str, float | int]]:
        rr = np.asarray(self.rr[SAME_ITEMS.get(reply, reply)])
        bucket = np.asarray(self.bucket)
        out = {"overall": _rr_row(rr)}
        for i, (name, _, _) in enumerate(BUCKETS):
            out[name] = _rr_row(rr[bucket == i])
        return out

    def latency(self, reply: str) -> dict[str, float]:
        a = np.asarray(self.lat[reply] or [0.0]) * 1e6
        return {"p50": float(np.percentile(a, 50)), "p99": float(np.percentile(a, 99))}

    def feature(self, name: str) -> dict[str, Any]:
        _, off, on = FEATURES[name]
        a = np.asarray(self.rr[SAME_ITEMS.get(off, off)])
        b = np.asarray(self.rr[SAME_ITEMS.get(on, on)])
        # Per keystroke, on minus off: exactly the merge, unique() or "match" encoding where the
        # on reply is the off reply plus a step; a paired difference of two calls otherwise.
        added = (np.asarray(self.lat[on]) - np.asarray(self.lat[off])) * 1e6
        if not len(added):
            added = np.zeros(1)
        return {
            "off": {"reply": off, "quality": self.quality(off), "latency_us": self.latency(off)},
            "on": {"reply": on, "quality": self.quality(on), "latency_us": self.latency(on)},
            "added_latency_us": {
                "p50": float(np.percentile(added, 50)),
                "p99": float(np.percentile(added, 99)),
            },
            "keystrokes_better": int((b > a).sum()),
            "keystrokes_worse": int((b < a).sum()),
        }


def _rr_row(rr: np.ndarray) -> dict[str, float | int]:
    n = len(rr)
    if not n:
        return {"n": 0, "mrr@10": 0.0, "success@1": 0.0, "success@10": 0.0}
    return {
        "n": n,
        "mrr@10": float(rr.mean()),
        "success@1": float((rr == 1.0).mean()),
        "success@10": float((rr > 0).mean()),
    }


def _bucket_index(prefix_len: int) -> int:
    for i, (_, lo, hi) in enumerate(BUCKETS):
        if lo <= prefix_len <= hi:
            return i
    raise ValueError(prefix_len)


@dataclass
class EmptyPrefix:
    """Answers to the empty prefix, scored against the query typed next."""

    rr: list[float] = field(default_factory=list)
    empty: int = 0
    lat: list[float] = field(default_factory=list)

    def add(self, target: str, items: Sequence[Completion], seconds: float) -> None:
        self.rr.append(reciprocal_rank(target, [c.text for c in items]))
        self.empty += not items
        self.lat.append(seconds)

    def to_dict(self) -> dict[str, Any]:
        rr = np.asarray(self.rr or [0.0])
        lat = np.asarray(self.lat or [0.0]) * 1e6
        return {
            "queries": len(self.rr),
            "mrr@10": float(rr.mean()),
            "success@1": float((rr == 1.0).mean()),
            "success@10": float((rr > 0).mean()),
            "empty_replies": self.empty,
            "latency_us": {
                "p50": float(np.percentile(lat, 50)),
                "p99": float(np.percentile(lat, 99)),
            },
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
    gen = getattr(ranker, "gen", None)
    if gen is None or gen.typo is None:
        sys.exit("features bench needs a blended index with a typo source (no --no-blend)")
    typo = gen.typo
    rng = random.Random(seed)
    clock = time.perf_counter

    fresh = FreshReplay(refresh_s)
    t0 = clock()
    if warmup:
        for sub in submits_in_time_order(data.dev):
            s = data.dev[sub.session]
            await fresh.submit(("dev", sub.session), s.queries[sub.j], sub.time, s.user)
    warm_s = clock() - t0
    histories: defaultdict[str, PersonalHistory] = defaultdict(lambda: PersonalHistory(200))
    for s in sorted(data.train + data.dev, key=lambda s: s.times[0]):
        for q, t in zip(s.queries, s.times, strict=True):
            histories[s.user].record(q, t)

    out = Outcomes()
    rr, lat = out.rr, out.lat
    recent = {
        "MPC (most popular)": EmptyPrefix(),
        "recent searches: session": EmptyPrefix(),
        "recent searches: session + history": EmptyPrefix(),
        "session + history, then MPC": EmptyPrefix(),
    }
    mpc_empty = idx.mpc.complete((), "", k)
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
            hist = histories[s.user].snapshot()
            recent["MPC (most popular)"].add(q, *timed(lambda: idx.mpc.complete((), "", k)))
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
                ctx, prefix = ex.context, ex.prefix

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
                if rng.random() < 0.5:
                    _, with_s = timed(lambda: completions_frame(1, prefix, base, 0.1))  # noqa: B023
                    _, without_s = timed(lambda: frame_without_match(1, prefix, base))  # noqa: B023
                else:
                    _, without_s = timed(lambda: frame_without_match(1, prefix, base))  # noqa: B023
                    _, with_s = timed(lambda: completions_frame(1, prefix, base, 0.1))  # noqa: B023

                out.bucket.append(_bucket_index(len(prefix)))
                replies = {
                    "raw": (raw[:k], raw_s),
                    "base": (base, base_s),
                    "no_typo": calls["no_typo"],
                    "blocked": calls["blocked"],
                    "fresh": (merged, base_s + merge_s),
                }
                for name, (items, secs) in replies.items():
                    rr[name].append(reciprocal_rank(q, [c.text for c in items], k))
                    lat[name].append(secs)
                lat["frame"].append(base_s + with_s)
                lat["frame_without_match"].append(base_s + without_s)
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
            histories[s.user].record(s.queries[sub.j], sub.time)
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
    "highlight": "cannot change MRR; latency = reply + encoding the frame",
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
