"""Decayed counts of submitted queries: what is new or trending, for fresh completions.

Forward decay (Cormode et al., "Forward decay: a practical time decay model", ICDE 2009): a
submit at time t adds ``exp((t - t0) / tau)`` to the query's score, and a score is read as
``score * exp(-(now - t0) / tau)``. Every stored score decays at the same rate, so the store
never rewrites old counts, an increment is one ZINCRBY, and the order of the stored scores is
the order of the decayed counts. ``tau = half_life / ln 2``: a submit counts 1 now, 1/2 one
half-life later. When ``now - t0`` passes `REBASE_AFTER` tau (scores near e^40), every score
is multiplied down once and t0 moves to now, so numbers stay far from overflow.

Bounded: once a quarter more than `max_items` queries have piled up, only the `max_items`
highest scores are kept. The slack matters: trimming on every add would evict each newcomer
(the lowest score) at once, and nothing new could ever trend.

Layout in Redis (``qac`` is the key prefix): ``qac:{fresh}`` a sorted set query -> forward
score; ``qac:{fresh}:t0`` the reference time. The braces keep both keys in one Redis Cluster
slot, so the Lua script that touches both stays legal there.
"""

from __future__ import annotations

import heapq
import math
import time
from dataclasses import dataclass
from typing import Protocol, cast

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff

from session_store.base import FRESH_HALF_LIFE_S, StoreConfig, check_query
from session_store.redis_store import unavailable

#: Rebase once scores reach e^REBASE_AFTER (a double holds up to ~e^709).
REBASE_AFTER = 40.0


@dataclass(frozen=True, slots=True)
class FreshConfig:
    """half_life_s: seconds after which a submit counts half (default 6 h).
    max_items: queries kept (the highest decayed counts; default 20,000)."""

    half_life_s: float = FRESH_HALF_LIFE_S
    max_items: int = 20_000

    def __post_init__(self) -> None:
        if not self.half_life_s > 0:
            raise ValueError(f"FreshConfig.half_life_s must be > 0, got {self.half_life_s!r}")
        if not isinstance(self.max_items, int) or self.max_items < 1:
            raise ValueError(f"FreshConfig.max_items must be an int >= 1, got {self.max_items!r}")

    @property
    def tau(self) -> float:
        return self.half_life_s / math.log(2)


class FreshCounts(Protocol):
    """Count submits; read the most counted queries with their decayed counts."""

    name: str

    async def add(self, query: str, now: float | None = None) -> None:
        """Count one submit of `query` at unix time `now` (default: the clock)."""
        ...

    async def top(self, n: int, now: float | None = None) -> list[tuple[str, float]]:
        """Up to `n` (query, decayed count at `now`) pairs, highest first."""
        ...

    async def close(self) -> None: ...


class MemoryFreshCounts:
    """Per process; lost on restart. Methods never await, so each runs atomically."""

    name = "memory"

    def __init__(self, config: FreshConfig | None = None) -> None:
        self.config = config if config is not None else FreshConfig()
        self._scores: dict[str, float] = {}
        self._t0: float | None = None

    async def add(self, query: str, now: float | None = None) -> None:
        check_query(query)
        now = time.time() if now is None else float(now)
        tau = self.config.tau
        if self._t0 is None:
            self._t0 = now
        elif (now - self._t0) / tau > REBASE_AFTER:
            factor = math.exp((self._t0 - now) / tau)
            self._scores = {q: s * factor for q, s in self._scores.items()}
            self._t0 = now
        self._scores[query] = self._scores.get(query, 0.0) + math.exp((now - self._t0) / tau)
        limit = self.config.max_items
        if len(self._scores) > limit + limit // 4:
            self._scores = dict(heapq.nlargest(limit, self._scores.items(), key=_score))

    async def top(self, n: int, now: float | None = None) -> list[tuple[str, float]]:
        if self._t0 is None or n <= 0:
            return []
        now = time.time() if now is None else float(now)
        n = min(n, self.config.max_items)
        scale = math.exp(-(now - self._t0) / self.config.tau)
        return [(q, s * scale) for q, s in heapq.nlargest(n, self._scores.items(), key=_score)]

    async def close(self) -> None:
        pass


def _score(item: tuple[str, float]) -> float:
    return item[1]


# KEYS: scores, t0. ARGV: query, now, tau, max items, rebase-after. One round trip, atomic.
_ADD_LUA = """
local scores, meta = KEYS[1], KEYS[2]
local now, tau = tonumber(ARGV[2]), tonumber(ARGV[3])
local t0 = tonumber(redis.call('GET', meta))
if not t0 then
  t0 = now
  redis.call('SET', meta, ARGV[2])
elseif (now - t0) / tau > tonumber(ARGV[5]) then
  local shrink = string.format('%.17g', math.exp((t0 - now) / tau))
  redis.call('ZUNIONSTORE', scores, 1, scores, 'WEIGHTS', shrink)
  redis.call('SET', meta, ARGV[2])
  t0 = now
end
redis.call('ZINCRBY', scores, string.format('%.17g', math.exp((now - t0) / tau)), ARGV[1])
local limit = tonumber(ARGV[4])
if redis.call('ZCARD', scores) > limit + math.floor(limit / 4) then
  redis.call('ZREMRANGEBYRANK', scores, 0, -(limit + 1))
end
return 1
"""


class RedisFreshCounts:
    """Shared by every worker and host; survives server restarts (and Redis restarts when
    Redis persists). Failures raise `SessionStoreUnavailable`, like the session store."""

    name = "redis"

    def __init__(
        self, url: str, config: FreshConfig | None = None, store: StoreConfig | None = None
    ) -> None:
        self.config = config if config is not None else FreshConfig()
        store = store if store is not None else StoreConfig()
        self._client: Redis = Redis.from_url(
            url,
            decode_responses=True,
            socket_timeout=store.socket_timeout_s,
            socket_connect_timeout=store.connect_timeout_s,
            retry=Retry(ExponentialWithJitterBackoff(cap=0.1, base=0.01), retries=store.retries),
        )
        self.key = f"{store.key_prefix}:{{fresh}}"
        self.t0_key = f"{self.key}:t0"
        self._add = self._client.register_script(_ADD_LUA)

    async def add(self, query: str, now: float | None = None) -> None:
        check_query(query)
        when = time.time() if now is None else float(now)
        args: list[str | int | float] = [
            query,
            repr(when),
            repr(self.config.tau),
            self.config.max_items,
            repr(REBASE_AFTER),
        ]
        with unavailable("fresh add"):
            await self._add(keys=[self.key, self.t0_key], args=args)

    async def top(self, n: int, now: float | None = None) -> list[tuple[str, float]]:
        if n <= 0:
            return []
        when = time.time() if now is None else float(now)
        with unavailable("fresh top"):
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.zrange(
                    self.key, 0, min(n, self.config.max_items) - 1, desc=True, withscores=True
                )
                pipe.get(self.t0_key)
                rows, t0 = await pipe.execute()
        if t0 is None:
            return []
        scale = math.exp(-(when - float(t0)) / self.config.tau)
        return [(q, float(s) * scale) for q, s in cast(list[tuple[str, float]], rows)]

    async def close(self) -> None:
        try:
            await self._client.aclose()
        except Exception:  # noqa: BLE001 - shutdown must not fail on a dead Redis
            pass


def create_fresh_counts(
    redis_url: str | None, config: FreshConfig | None = None, store: StoreConfig | None = None
) -> FreshCounts:
    """In memory without a Redis URL, else in Redis (creating it does not connect)."""
    if redis_url is None:
        return MemoryFreshCounts(config)
    return RedisFreshCounts(redis_url, config, store)
