"""Per-client counts shared by every server process on one Redis: open sockets, frames sent.

Each worker enforces per-client limits on what it sees itself; a client that spreads its
sockets or frames over several workers and hosts is only visible here. Layout (``qac`` is
`StoreConfig.key_prefix`, `<client>` an opaque key such as a keyed pseudonym of the address):

* ``qac:client:{<client>}:conns``: a sorted set of connection ids scored by the time (ms) the
  entry lapses unless its worker renews it (`heartbeat`), so a crashed worker's sockets stop
  counting by themselves;
* ``qac:client:{<client>}:frames:<window>``: frames the client sent in one time window.

The hash tag keeps a client's keys in one Cluster slot. `heartbeat` and `add_frames` batch
many clients' keys in one pipeline without a transaction; on a cluster the client splits it
by node and returns the replies in order. Failures raise `SessionStoreUnavailable`; callers
fail open to their local limits.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import cast

from session_store.base import StoreConfig
from session_store.client import RedisClient, redis_client, unavailable

# KEYS: conns zset. ARGV: now ms, connection id, cap, ttl ms. 1 admitted, 0 at the cap.
_JOIN_LUA = """
local key, now = KEYS[1], tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
local known = redis.call('ZSCORE', key, ARGV[2])
if known == false and redis.call('ZCARD', key) >= tonumber(ARGV[3]) then
  return 0
end
redis.call('ZADD', key, now + tonumber(ARGV[4]), ARGV[2])
redis.call('PEXPIRE', key, ARGV[4])
return 1
"""


class RedisLedger:
    """Shared per-client counts on Redis (see module doc). Creating it does not connect."""

    def __init__(self, url: str, config: StoreConfig | None = None) -> None:
        self.config = config if config is not None else StoreConfig()
        self._client: RedisClient = redis_client(url, self.config)
        self._join = self._client.register_script(_JOIN_LUA)

    def _key(self, client: str, part: str) -> str:
        return f"{self.config.key_prefix}:client:{{{client}}}:{part}"

    async def join(self, client: str, conn_id: str, cap: int, ttl_s: float) -> bool:
        """Count `conn_id` for `client` unless the client holds `cap` sockets already."""
        args: list[str | int] = [_now_ms(), conn_id, cap, round(ttl_s * 1000)]
        with unavailable("ledger join"):
            return bool(await self._join(keys=[self._key(client, "conns")], args=args))

    async def leave(self, client: str, conn_id: str) -> None:
        with unavailable("ledger leave"):
            await self._client.zrem(self._key(client, "conns"), conn_id)

    async def heartbeat(self, conns: Mapping[str, Sequence[str]], ttl_s: float) -> None:
        """Renew the entries of sockets this process still holds."""
        if not conns:
            return
        until = _now_ms() + round(ttl_s * 1000)
        with unavailable("ledger heartbeat"):
            async with self._client.pipeline(transaction=False) as pipe:
                for client, ids in conns.items():
                    key = self._key(client, "conns")
                    pipe.zadd(key, dict.fromkeys(ids, until), xx=True)
                    pipe.pexpire(key, round(ttl_s * 1000))
                await pipe.execute()

    async def add_frames(self, counts: Mapping[str, int], window_s: float) -> dict[str, int]:
        """Add each client's frames to the current window; returns the window's totals."""
        if not counts:
            return {}
        window = int(time.time() // window_s)
        ttl_ms = round(window_s * 2000)
        clients = list(counts)
        with unavailable("ledger frames"):
            async with self._client.pipeline(transaction=False) as pipe:
                for client in clients:
                    key = self._key(client, f"frames:{window}")
                    pipe.incrby(key, counts[client])
                    pipe.pexpire(key, ttl_ms)
                replies = await pipe.execute()
        return {c: int(cast(int, replies[2 * i])) for i, c in enumerate(clients)}

    async def close(self) -> None:
        try:
            await self._client.aclose()
        except Exception:  # noqa: BLE001 - shutdown must not fail on a dead Redis
            pass


def _now_ms() -> int:
    return int(time.time() * 1000)
