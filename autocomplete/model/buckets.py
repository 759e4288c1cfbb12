"""Prefix-length buckets: the one definition metrics, the blend and the benchmarks share.

Quality is reported, and the blend weights are fitted, per bucket of typed characters:
1, 2, 3, 4-5, 6-10, 11+. The previous query matters most at 1-2 characters, popularity and
generated completions later, so one weight row per bucket is the blend's unit of fitting.
"""

from __future__ import annotations

#: (name, shortest, longest) prefix length of each bucket, in order
BUCKETS: tuple[tuple[str, int, int], ...] = (
    ("1", 1, 1),
    ("2", 2, 2),
    ("3", 3, 3),
    ("4-5", 4, 5),
    ("6-10", 6, 10),
    ("11+", 11, 10**9),
)
NAMES: tuple[str, ...] = tuple(name for name, _, _ in BUCKETS)
_LAST = len(BUCKETS) - 1
#: bucket index by prefix length, up to where the last bucket begins
_BY_LEN = [-1] + [next(i for i, (_, lo, hi) in enumerate(BUCKETS) if lo <= n <= hi)
                  for n in range(1, BUCKETS[_LAST][1])]  # fmt: skip


def bucket_index(prefix_len: int) -> int:
    """0..5: the position in `BUCKETS` of a prefix of this many characters (>= 1)."""
    if prefix_len < 1:
        raise ValueError(f"prefix length must be >= 1, got {prefix_len}")
    return _BY_LEN[prefix_len] if prefix_len < len(_BY_LEN) else _LAST


def bucket_of(prefix_len: int) -> str:
    """The name of the bucket of a prefix of this many characters (>= 1)."""
    return NAMES[bucket_index(prefix_len)]
