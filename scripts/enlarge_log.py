"""Enlarge a real AOL-format log N times, for scaling measurements only (never for quality).

    python scripts/enlarge_log.py --log LOG.gz --factor 8 --out /tmp/aol-x8.synthetic.tsv.gz

What a bigger log looks like to the build is more users, more sessions and more distinct
queries, the last growing sublinearly with the log (Heaps' law: real query logs gain new
distinct queries at a falling rate). So copy c = 1..N-1 of the log:

* replays every real user's sessions under a new id (`<id>x<c>`) and shifted dates: each user
  copy is moved by a whole number of days drawn in [-`shift_days`, +`shift_days`] and clipped
  to the log's own date range, so the time split still finds train, dev and test parts;
* replaces a query by a *recombined* one with probability `novel_rate / c**decay`: the first
  words of that query followed by the last words of another real query (words are real, the
  combination is new), so copies add distinct queries at a falling rate, as a larger real log
  would. `--report` prints the distinct-query counts by copy and the fitted exponent. The
  defaults give distinct ~ events^0.90 from the shared 1,000-user log to 4 times it, close to
  the 0.92 between that log and the full AOL release (140k distinct in 273k events, ~10M in
  ~36M rows).

Copy 0 is the real log, row for row. The output keeps the AOL layout (header, tab-separated,
one row per event; ItemRank and ClickURL empty), so every reader of the real log reads it. The
file name should say it is synthetic: its queries are not a real log's and must never be used
to claim quality. Deterministic for a given `--seed`.
"""

from __future__ import annotations

import argparse
import gzip
import math
import random
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from indexer.querylog import QueryEvent, read_events  # noqa: E402

HEADER = "AnonID\tQuery\tQueryTime\tItemRank\tClickURL\n"
_DAY = 86400.0


@dataclass(frozen=True)
class EnlargeParams:
    """factor: how many copies in all (1 = the real log alone).
    novel_rate: chance that a query of copy 1 is recombined; copy c uses novel_rate / c**decay.
    decay: how fast later copies stop adding new queries (0: never).
    shift_days: largest date shift of a user's copy, in whole days.
    seed: the random seed (the output is a function of the input and these)."""

    factor: int = 2
    novel_rate: float = 0.5
    decay: float = 0.2
    shift_days: int = 3
    seed: int = 0

    def __post_init__(self) -> None:
        if self.factor < 1:
            raise ValueError(f"--factor must be >= 1, got {self.factor}")
        if not 0 <= self.novel_rate <= 1:
            raise ValueError(f"--novel-rate must be in [0, 1], got {self.novel_rate}")
        if self.decay < 0 or self.shift_days < 0:
            raise ValueError("--decay and --shift-days must be >= 0")


def recombine(query: str, other: str, rng: random.Random) -> str:
    """The first words of `query`, then the last words of `other` (at least one of each)."""
    a, b = query.split(), other.split()
    head = a[: rng.randint(1, max(1, len(a) - 1))] if len(a) > 1 else a
    tail = b[-rng.randint(1, max(1, len(b) - 1)) :] if len(b) > 1 else b
    return " ".join(head + tail)


def enlarge(events: Sequence[QueryEvent], params: EnlargeParams) -> Iterator[QueryEvent]:
    """The real events, then `factor - 1` shifted, partly recombined copies of them."""
    yield from events
    if params.factor == 1 or not events:
        return
    rng = random.Random(params.seed)
    first, last = min(e.time for e in events), max(e.time for e in events)
    queries = [e.query for e in events]
    by_user: dict[str, list[QueryEvent]] = {}
    for e in events:
        by_user.setdefault(e.user, []).append(e)
    for copy in range(1, params.factor):
        rate = params.novel_rate / copy**params.decay
        for user, mine in by_user.items():
            shift = rng.randint(-params.shift_days, params.shift_days) * _DAY
            shift = min(max(shift, first - mine[0].time), last - mine[-1].time)
            for e in mine:
                query = e.query
                if rng.random() < rate:
                    query = recombine(query, rng.choice(queries), rng)
                yield QueryEvent(f"{user}x{copy}", query, e.time + shift)


def _stamp(t: float) -> str:
    return (datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=t)).strftime("%Y-%m-%d %H:%M:%S")


def write_log(events: Iterator[QueryEvent], out: Path) -> int:
    """Write AOL-format rows (gzip when `out` ends in .gz); returns the rows written."""
    rows = 0
    opener = gzip.open if out.suffix == ".gz" else open
    with opener(out, "wt", encoding="utf-8", newline="\n") as fh:  # type: ignore[operator]
        fh.write(HEADER)
        for e in events:
            fh.write(f"{e.user}\t{e.query}\t{_stamp(e.time)}\t\t\n")
            rows += 1
    return rows


def heaps_exponent(sizes: Sequence[int], distinct: Sequence[int]) -> float:
    """beta of distinct ~ size**beta, least squares in log-log space."""
    xs = [math.log(s) for s in sizes]
    ys = [math.log(d) for d in distinct]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / den if den else 0.0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--log", type=Path, required=True, help="a real AOL-format log")
    p.add_argument("--out", type=Path, required=True, help="where to write (.gz: gzip)")
    p.add_argument("--factor", type=int, default=2, help="copies in all (default 2)")
    p.add_argument("--novel-rate", type=float, default=0.5, help="default 0.5")
    p.add_argument("--decay", type=float, default=0.2, help="default 0.2")
    p.add_argument("--shift-days", type=int, default=3, help="default 3")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--report", action="store_true", help="distinct queries per copy, exponent")
    args = p.parse_args(argv)
    params = EnlargeParams(args.factor, args.novel_rate, args.decay, args.shift_days, args.seed)
    events = list(read_events([args.log]))
    rows = write_log(enlarge(events, params), args.out)
    print(f"wrote {rows} events ({params.factor}x {len(events)}) -> {args.out}")
    if args.report:
        seen: set[str] = set()
        sizes, distinct = [], []
        for i, e in enumerate(enlarge(events, params), start=1):
            seen.add(e.query)
            if i % len(events) == 0:
                sizes.append(i)
                distinct.append(len(seen))
        for size, d in zip(sizes, distinct, strict=True):
            print(f"  {size:>10} events  {d:>9} distinct queries")
        if len(sizes) > 1:
            print(f"  distinct ~ events^{heaps_exponent(sizes, distinct):.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
