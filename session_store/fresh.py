"""Decayed counts of submitted queries, released only once enough distinct people sent them.

What a fresh completion shows to everyone must be k-anonymous: one person (or one script)
must not be able to put text into strangers' completions. So a submit counts only through
the *identity* that sent it (a keyed pseudonym of a verified user, or of an anonymous
client's address), and:

* each identity counts at most once per query per window (`FreshConfig.window_s`, fixed
  windows; the current and the previous one are kept);
* each identity has a quota of counted submits per window (`quota`): a flood counts little;
* identities weigh what the caller says (verified users 1, anonymous addresses much less);
* a query is *released* (readable by `top`, hence shown and exported) only while the
  weights of the distinct identities that sent it, within one window, reach `min_users`;
* `forget(who, query)` takes an identity's contribution back (one query, or all of them):
  the score loses it, and a query that falls below `min_users` is withdrawn.

Scores use forward decay (Cormode et al., "Forward decay: a practical time decay model",
ICDE 2009): a contribution at time t adds ``weight * exp((t - t0) / tau)``, and a score is
read as ``score * exp(-(now - t0) / tau)``, so every stored score decays at the same rate,
an increment is one ZINCRBY, and the order of stored scores is the order of decayed counts.
``tau = half_life / ln 2``. Past `REBASE_AFTER` tau, scores are scaled down once and t0 moves.

Bounded: released scores keep at most `max_items` (+25% slack, so newcomers can still
trend); per-window bookkeeping expires with its window (Redis TTLs), and each identity's
quota bounds what it can add to it.

Layout in Redis (``qac`` is the key prefix; ``{fresh}`` is a Cluster hash tag that keeps
every key in one slot, so the scripts stay legal on a cluster):
``qac:{fresh}`` released scores; ``qac:{fresh}:t0`` the reference time;
``qac:{fresh}:w:<window>:<query>`` hash identity -> "weight|time" plus ``_w`` the weight sum;
``qac:{fresh}:by:<window>:<identity>`` set of queries the identity counted;
``qac:{fresh}:quota:<window>:<identity>`` counted submits.
"""

from __future__ import annotations

import heapq
import math
import time
from dataclasses import dataclass
from typing import Protocol

from session_store.base import FRESH_HALF_LIFE_S, FRESH_MIN_USERS, StoreConfig, check_query
from session_store.client import RedisClient, redis_client, unavailable

#: Rebase once scores reach e^REBASE_AFTER (a double holds up to ~e^709).
REBASE_AFTER = 40.0
#: Field of a window hash holding the sum of its identities' weights.
_SUM = "_w"


@dataclass(frozen=True, slots=True)
class FreshConfig:
    """half_life_s: seconds after which a submit counts half (default 6 h).
    max_items: released queries kept (the highest decayed counts; default 20,000).
    min_users: weight of distinct identities a query needs within one window before anyone
        else sees it (a verified user weighs 1; see `add`). Default 3.
    window_s: length of the windows in which an identity counts once per query and
        `min_users` must be reached (default: the half-life).
    quota: counted submits per identity per window; beyond it submits are not counted.
    """

    half_life_s: float = FRESH_HALF_LIFE_S
    max_items: int = 20_000
    min_users: float = FRESH_MIN_USERS
    window_s: float = FRESH_HALF_LIFE_S
    quota: int = 100

    def __post_init__(self) -> None:
        if not self.half_life_s > 0:
            raise ValueError(f"FreshConfig.half_life_s must be > 0, got {self.half_life_s!r}")
        if not isinstance(self.max_items, int) or self.max_items < 1:
            raise ValueError(f"FreshConfig.max_items must be an int >= 1, got {self.max_items!r}")
        if not self.min_users > 0:
            raise ValueError(f"FreshConfig.min_users must be > 0, got {self.min_users!r}")
        if not self.window_s > 0:
            raise ValueError(f"FreshConfig.window_s must be > 0, got {self.window_s!r}")
        if not isinstance(self.quota, int) or self.quota < 1:
            raise ValueError(f"FreshConfig.quota must be an int >= 1, got {self.quota!r}")

    @property
    def tau(self) -> float:
        return self.half_life_s / math.log(2)

    def window(self, now: float) -> int:
        return int(now // self.window_s)


class FreshCounts(Protocol):
    """Count submits by identity; read the released queries with their decayed counts."""

    name: str

    async def add(
        self, query: str, who: str, weight: float = 1.0, now: float | None = None
    ) -> bool:
        """Count one submit of `query` by identity `who` (weight `weight`) at unix time `now`
        (default: the clock). False when it did not count (a repeat within the window, or
        over the identity's quota)."""
        ...

    async def top(self, n: int, now: float | None = None) -> list[tuple[str, float]]:
        """Up to `n` released (query, decayed count at `now`) pairs, highest first."""
        ...

    async def forget(self, who: str, query: str | None = None, now: float | None = None) -> None:
        """Take back what `who` contributed to `query` (None: to every query)."""
        ...

    async def close(self) -> None: ...


def _check_who(who: str, weight: float) -> None:
    if not isinstance(who, str) or not who or len(who) > 200 or "|" in who:
        raise ValueError("identity must be a non-empty string of at most 200 chars, no '|'")
    if not 0 < weight <= 1:
        raise ValueError(f"weight must be in (0, 1], got {weight!r}")


class MemoryFreshCounts:
    """Per process; lost on restart. Methods never await, so each runs atomically."""

    name = "memory"

    def __init__(self, config: FreshConfig | None = None) -> None:
        self.config = config if config is not None else FreshConfig()
        self._scores: dict[str, float] = {}
        self._t0: float | None = None
        # window -> query -> identity -> (weight, time); window -> identity -> queries/count
        self._who: dict[int, dict[str, dict[str, tuple[float, float]]]] = {}
        self._by: dict[int, dict[str, set[str]]] = {}
        self._quota: dict[int, dict[str, int]] = {}

    def _units(self, weight: float, when: float) -> float:
        assert self._t0 is not None
        return weight * math.exp((when - self._t0) / self.config.tau)

    def _keep_windows(self, current: int) -> None:
        for table in (self._who, self._by, self._quota):
            for old in [w for w in table if w < current - 1]:
                del table[old]

    async def add(
        self, query: str, who: str, weight: float = 1.0, now: float | None = None
    ) -> bool:
        check_query(query)
        _check_who(who, weight)
        now = time.time() if now is None else float(now)
        cfg = self.config
        window = cfg.window(now)
        self._keep_windows(window)
        quota = self._quota.setdefault(window, {})
        quota[who] = quota.get(who, 0) + 1
        if quota[who] > cfg.quota:
            return False
        senders = self._who.setdefault(window, {}).setdefault(query, {})
        if who in senders:
            return False
        senders[who] = (weight, now)
        self._by.setdefault(window, {}).setdefault(who, set()).add(query)
        self._rebase(now)
        if query in self._scores:
            self._scores[query] += self._units(weight, now)
        elif sum(w for w, _ in senders.values()) >= cfg.min_users - 1e-9:
            self._scores[query] = sum(self._units(w, t) for w, t in senders.values())
        limit = cfg.max_items
        if len(self._scores) > limit + limit // 4:
            self._scores = dict(heapq.nlargest(limit, self._scores.items(), key=_score))
        return True

    def _rebase(self, now: float) -> None:
        tau = self.config.tau
        if self._t0 is None:
            self._t0 = now
        elif (now - self._t0) / tau > REBASE_AFTER:
            factor = math.exp((self._t0 - now) / tau)
            self._scores = {q: s * factor for q, s in self._scores.items()}
            self._t0 = now

    async def top(self, n: int, now: float | None = None) -> list[tuple[str, float]]:
        if self._t0 is None or n <= 0:
            return []
        now = time.time() if now is None else float(now)
        n = min(n, self.config.max_items)
        scale = math.exp(-(now - self._t0) / self.config.tau)
        return [(q, s * scale) for q, s in heapq.nlargest(n, self._scores.items(), key=_score)]

    async def forget(self, who: str, query: str | None = None, now: float | None = None) -> None:
        _check_who(who, 1.0)
        if query is not None:
            check_query(query)
        for window in list(self._by):
            mine = self._by[window].get(who, set())
            for q in [query] if query is not None else list(mine):
                senders = self._who.get(window, {}).get(q, {})
                if who not in senders:
                    continue
                weight, when = senders.pop(who)
                mine.discard(q)
                if not senders:
                    del self._who[window][q]
                if q in self._scores and self._t0 is not None:
                    self._scores[q] -= self._units(weight, when)
                    if not self._released(q):
                        del self._scores[q]
        if query is None:
            for tally in self._quota.values():
                tally.pop(who, None)
            for by in self._by.values():
                by.pop(who, None)

    def _released(self, query: str) -> bool:
        return any(
            sum(w for w, _ in senders.get(query, {}).values()) >= self.config.min_users - 1e-9
            for senders in self._who.values()
        )

    async def close(self) -> None:
        pass


def _score(item: tuple[str, float]) -> float:
    return item[1]


# KEYS: scores, t0, window hash, identity's query set, identity's quota.
# ARGV: query, who, weight, now, tau, max items, rebase-after, min users, quota, ttl ms.
# Returns 1 counted, 0 a repeat, -1 over quota. One round trip, atomic.
_ADD_LUA = """
local scores, meta, senders, mine, quota = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local query, who, weight = ARGV[1], ARGV[2], tonumber(ARGV[3])
local now, tau, ttl = tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[10]
local used = redis.call('INCR', quota)
if used == 1 then redis.call('PEXPIRE', quota, ttl) end
if used > tonumber(ARGV[9]) then return -1 end
if redis.call('HSETNX', senders, who, ARGV[3] .. '|' .. ARGV[4]) == 0 then return 0 end
local total = tonumber(redis.call('HINCRBYFLOAT', senders, '_w', ARGV[3]))
redis.call('PEXPIRE', senders, ttl)
redis.call('SADD', mine, query)
redis.call('PEXPIRE', mine, ttl)
local t0 = tonumber(redis.call('GET', meta))
if not t0 then
  t0 = now
  redis.call('SET', meta, ARGV[4])
elseif (now - t0) / tau > tonumber(ARGV[7]) then
  local shrink = string.format('%.17g', math.exp((t0 - now) / tau))
  redis.call('ZUNIONSTORE', scores, 1, scores, 'WEIGHTS', shrink)
  redis.call('SET', meta, ARGV[4])
  t0 = now
end
if redis.call('ZSCORE', scores, query) then
  redis.call('ZINCRBY', scores, string.format('%.17g', weight * math.exp((now - t0) / tau)), query)
elseif total >= tonumber(ARGV[8]) - 1e-9 then
  local sum, all = 0, redis.call('HGETALL', senders)
  for i = 1, #all, 2 do
    if all[i] ~= '_w' then
      local sep = string.find(all[i + 1], '|', 1, true)
      local v = all[i + 1]
      local w, t = tonumber(string.sub(v, 1, sep - 1)), tonumber(string.sub(v, sep + 1))
      sum = sum + w * math.exp((t - t0) / tau)
    end
  end
  redis.call('ZADD', scores, string.format('%.17g', sum), query)
end
local limit = tonumber(ARGV[6])
if redis.call('ZCARD', scores) > limit + math.floor(limit / 4) then
  redis.call('ZREMRANGEBYRANK', scores, 0, -(limit + 1))
end
return 1
"""

# KEYS: scores, t0, then for each (window hash, identity's query set) pair of a query the
# identity counted. ARGV: who, tau, min users, then per pair the query, then the other
# window's hash key for that query (to tell whether it stays released). Atomic.
_FORGET_LUA = """
local scores, meta = KEYS[1], KEYS[2]
local who, tau, need = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]) - 1e-9
local t0 = tonumber(redis.call('GET', meta))
local groups = (#KEYS - 2) / 3
for i = 1, groups do
  local senders, mine, other = KEYS[2 + 3 * i - 2], KEYS[2 + 3 * i - 1], KEYS[2 + 3 * i]
  local query = ARGV[3 + i]
  local v = redis.call('HGET', senders, who)
  redis.call('SREM', mine, query)
  if v then
    redis.call('HDEL', senders, who)
    local sep = string.find(v, '|', 1, true)
    local w, t = tonumber(string.sub(v, 1, sep - 1)), tonumber(string.sub(v, sep + 1))
    local left = tonumber(redis.call('HINCRBYFLOAT', senders, '_w', -w))
    if redis.call('HLEN', senders) <= 1 then
      redis.call('DEL', senders)  -- nobody left: not even the query's name stays behind
      left = 0
    end
    if t0 and redis.call('ZSCORE', scores, query) then
      local elsewhere = tonumber(redis.call('HGET', other, '_w') or '0')
      if left < need and elsewhere < need then
        redis.call('ZREM', scores, query)
      else
        redis.call('ZINCRBY', scores, string.format('%.17g', -w * math.exp((t - t0) / tau)), query)
      end
    end
  end
end
return 1
"""


# KEYS: released scores, t0. ARGV: the last rank wanted. Both read at one instant; a script
# rather than MULTI/EXEC for the reason given in `session_store.redis_store` (_HISTORY_LUA).
_TOP_LUA = """
return {redis.call('GET', KEYS[2]), redis.call('ZREVRANGE', KEYS[1], 0, ARGV[1], 'WITHSCORES')}
"""


class RedisFreshCounts:
    """Shared by every worker and host; survives server restarts (and Redis restarts when
    Redis persists). On one Redis server or a Redis Cluster (the URL says which; see
    `session_store.client`). Failures raise `SessionStoreUnavailable`, like the session store."""

    name = "redis"

    def __init__(
        self, url: str, config: FreshConfig | None = None, store: StoreConfig | None = None
    ) -> None:
        self.config = config if config is not None else FreshConfig()
        store = store if store is not None else StoreConfig()
        self._client: RedisClient = redis_client(url, store)
        self.key = f"{store.key_prefix}:{{fresh}}"
        self.t0_key = f"{self.key}:t0"
        self._add = self._client.register_script(_ADD_LUA)
        self._forget = self._client.register_script(_FORGET_LUA)
        self._top = self._client.register_script(_TOP_LUA)

    def _senders(self, window: int, query: str) -> str:
        return f"{self.key}:w:{window}:{query}"

    def _mine(self, window: int, who: str) -> str:
        return f"{self.key}:by:{window}:{who}"

    async def add(
        self, query: str, who: str, weight: float = 1.0, now: float | None = None
    ) -> bool:
        check_query(query)
        _check_who(who, weight)
        when = time.time() if now is None else float(now)
        cfg = self.config
        window = cfg.window(when)
        keys = [
            self.key,
            self.t0_key,
            self._senders(window, query),
            self._mine(window, who),
            f"{self.key}:quota:{window}:{who}",
        ]
        args: list[str | int | float] = [
            query,
            who,
            repr(float(weight)),
            repr(when),
            repr(cfg.tau),
            cfg.max_items,
            repr(REBASE_AFTER),
            repr(float(cfg.min_users)),
            cfg.quota,
            round(2 * cfg.window_s * 1000),
        ]
        with unavailable("fresh add"):
            return int(await self._add(keys=keys, args=args)) == 1

    async def top(self, n: int, now: float | None = None) -> list[tuple[str, float]]:
        if n <= 0:
            return []
        when = time.time() if now is None else float(now)
        last = min(n, self.config.max_items) - 1
        with unavailable("fresh top"):
            t0, flat = await self._top(keys=[self.key, self.t0_key], args=[last])
        if t0 is None:
            return []
        scale = math.exp(-(when - float(t0)) / self.config.tau)
        return [(q, float(s) * scale) for q, s in zip(flat[::2], flat[1::2], strict=True)]

    async def forget(self, who: str, query: str | None = None, now: float | None = None) -> None:
        _check_who(who, 1.0)
        if query is not None:
            check_query(query)
        current = self.config.window(time.time() if now is None else float(now))
        windows = (current - 1, current)
        with unavailable("fresh forget"):
            if query is None:
                async with self._client.pipeline(transaction=False) as pipe:
                    for w in windows:
                        pipe.smembers(self._mine(w, who))
                    counted = await pipe.execute()
            else:
                counted = [{query}, {query}]
            keys, args = [self.key, self.t0_key], [who, repr(self.config.tau)]
            args.append(repr(float(self.config.min_users)))
            for w, queries in zip(windows, counted, strict=True):
                other = windows[0] if w == windows[1] else windows[1]
                for q in sorted(queries):
                    keys += [self._senders(w, q), self._mine(w, who), self._senders(other, q)]
                    args.append(q)
            if len(keys) > 2:
                await self._forget(keys=keys, args=args)
            if query is None:  # nothing of the identity stays behind, not even its tally
                await self._client.delete(*(f"{self.key}:quota:{w}:{who}" for w in windows))

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
