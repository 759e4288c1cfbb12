"""Redis session store: shared state for many server processes and hosts.

Layout (``qac`` is `StoreConfig.key_prefix`):

* ``qac:sess:<session id>``: an anonymous session: a list, newest query at the head,
  trimmed to `max_recent`;
* ``qac:user:{<user id>}:sess:<session id>``: the same, for a session of an identified user;
* ``qac:user:{<user id>}:sessions``: a sorted set of the user's session keys by last write,
  so forgetting reaches every session of the user (trimmed to `max_user_sessions`);
* ``qac:user:{<user id>}``: a sorted set, query -> last-used unix time;
* ``qac:user:{<user id>}:count``: a hash, query -> submit count.

The braces are a Redis Cluster hash tag: they put everything of one user in one slot, so the
Lua scripts that touch several of those keys stay legal (and atomic) on a cluster. An
anonymous session is a single key, in whatever slot its id hashes to. User ids come from
verified credentials, which never contain braces. Scripts touch only the keys they are given,
never key names read inside Lua (the cluster routes a script by its keys).

Retention: every key has a TTL. Sessions live `session_ttl_s` after their last submit (30
minutes); a user's history and session index `user_ttl_s` after their last submit (90 days).

Every write is a single Lua script, so concurrent workers never see half an update and a write
costs one round trip; so is the one read of two keys (`user_history`). Writes refresh the TTL
of the keys they touch.

Failure policy (`session_store.client`, shared with the fresh counts and the ledger): short
socket and connect timeouts plus one explicit retry policy (exponential backoff with jitter)
bound how long a dead or stuck Redis can hold a keystroke, and every client error is re-raised
as `SessionStoreUnavailable`. The client reconnects on its own (on a cluster it also finds the
replica that took over a dead master), so the same store object works again once Redis is
back. Scripts are sent by SHA and reloaded transparently when a restarted server or a newly
promoted replica lacks them.
"""

from __future__ import annotations

import time
from typing import cast

from redis.exceptions import RedisError

from session_store.base import HistoryEntry, StoreConfig, check_id, check_query
from session_store.client import RedisClient, redis_client, unavailable
from session_store.errors import SessionStoreUnavailable

#: Times `forget_user` re-reads the user's session index when sessions were added meanwhile.
_FORGET_ATTEMPTS = 3

# Dedupe needs to read the head before pushing, so append is a script rather than a plain
# MULTI: LINDEX + LPUSH + LTRIM + PEXPIRE, atomically, in one round trip. KEYS: the session
# list, and for a user's session the user's session index. ARGV: query, max recent, session
# ttl ms, then (with an index) now, max sessions, user ttl ms.
_APPEND_LUA = """
local key, query = KEYS[1], ARGV[1]
if redis.call('LINDEX', key, 0) ~= query then
  redis.call('LPUSH', key, query)
  redis.call('LTRIM', key, 0, tonumber(ARGV[2]) - 1)
end
redis.call('PEXPIRE', key, ARGV[3])
local index = KEYS[2]
if index then
  redis.call('ZADD', index, ARGV[4], key)
  local excess = redis.call('ZCARD', index) - tonumber(ARGV[5])
  if excess > 0 then redis.call('ZREMRANGEBYRANK', index, 0, excess - 1) end
  redis.call('PEXPIRE', index, ARGV[6])
end
return 1
"""

# KEYS: last-used zset, count hash, session index, then every session key the index held when
# the caller read it. ARGV: query, or "" for everything. Removes the query from the history and
# from every indexed session (or deletes them all). A script may touch only the keys it was
# given (Redis Cluster moves and checks keys by them), so it never reads a key name from the
# index: when the index holds a session the caller did not name (one added since the caller
# read it), it changes nothing and returns 0, and the caller reads the index again.
_FORGET_USER_LUA = """
local seen, counts, index, query = KEYS[1], KEYS[2], KEYS[3], ARGV[1]
local named = {}
for i = 4, #KEYS do named[KEYS[i]] = true end
for _, key in ipairs(redis.call('ZRANGE', index, 0, -1)) do
  if not named[key] then return 0 end
end
if query == '' then
  for i = 4, #KEYS do redis.call('DEL', KEYS[i]) end
  redis.call('DEL', seen, counts, index)
else
  for i = 4, #KEYS do redis.call('LREM', KEYS[i], 0, query) end
  redis.call('ZREM', seen, query)
  redis.call('HDEL', counts, query)
end
return 1
"""

# KEYS: last-used zset, count hash. ARGV: query, now, history size, ttl ms.
# ZADD GT never moves last_used backwards (a client with a lagging clock); trimming drops the
# least recently used queries from both structures: O(log n) per record.
_RECORD_USER_LUA = """
local seen, counts, query = KEYS[1], KEYS[2], ARGV[1]
redis.call('ZADD', seen, 'GT', ARGV[2], query)
redis.call('HINCRBY', counts, query, 1)
local excess = redis.call('ZCARD', seen) - tonumber(ARGV[3])
if excess > 0 then
  local old = redis.call('ZRANGE', seen, 0, excess - 1)
  redis.call('ZREMRANGEBYRANK', seen, 0, excess - 1)
  redis.call('HDEL', counts, unpack(old))
end
redis.call('PEXPIRE', seen, ARGV[4])
redis.call('PEXPIRE', counts, ARGV[4])
return 1
"""


# KEYS: last-used zset, count hash. Both read at one instant, in one round trip. A script
# rather than MULTI/EXEC: redis-py's cluster client runs a transaction's every command on a
# thread of its own (milliseconds of a blocked event loop per read).
_HISTORY_LUA = """
return {redis.call('ZREVRANGE', KEYS[1], 0, -1, 'WITHSCORES'), redis.call('HGETALL', KEYS[2])}
"""


def _ms(seconds: float) -> int:
    return max(1, round(seconds * 1000))


class RedisStore:
    """`SessionStore` on one Redis server or a Redis Cluster (the URL says which; see
    `session_store.client`). Creating it does not connect."""

    name = "redis"

    def __init__(self, url: str, config: StoreConfig | None = None) -> None:
        self.config = config if config is not None else StoreConfig()
        self._client: RedisClient = redis_client(url, self.config)
        self._append = self._client.register_script(_APPEND_LUA)
        self._record_user = self._client.register_script(_RECORD_USER_LUA)
        self._forget_user = self._client.register_script(_FORGET_USER_LUA)
        self._history = self._client.register_script(_HISTORY_LUA)

    def session_key(self, session_id: str, user_id: str | None = None) -> str:
        check_id("session_id", session_id)
        if user_id is None:
            return f"{self.config.key_prefix}:sess:{session_id}"
        return f"{self.user_keys(check_id('user_id', user_id))[0]}:sess:{session_id}"

    def session_index_key(self, user_id: str) -> str:
        return f"{self.user_keys(user_id)[0]}:sessions"

    def user_keys(self, user_id: str) -> tuple[str, str]:
        """(last-used sorted set, count hash) for the user."""
        seen = f"{self.config.key_prefix}:user:{{{user_id}}}"
        return seen, f"{seen}:count"

    async def recent(self, session_id: str, user_id: str | None = None) -> list[str]:
        key = self.session_key(session_id, user_id)
        with unavailable("recent"):
            newest_first = cast(list[str], await self._client.lrange(key, 0, -1))
        return newest_first[::-1]

    async def append(self, session_id: str, query: str, user_id: str | None = None) -> None:
        key = self.session_key(session_id, user_id)
        check_query(query)
        args: list[str | int] = [query, self.config.max_recent, _ms(self.config.session_ttl_s)]
        keys = [key]
        if user_id is not None:
            keys.append(self.session_index_key(user_id))
            args += [repr(time.time()), self.config.max_user_sessions, _ms(self.config.user_ttl_s)]
        with unavailable("append"):
            await self._append(keys=keys, args=args)

    async def clear(self, session_id: str, user_id: str | None = None) -> None:
        key = self.session_key(session_id, user_id)
        with unavailable("clear"):
            await self._client.delete(key)

    async def forget(self, session_id: str, query: str, user_id: str | None = None) -> None:
        key = self.session_key(session_id, user_id)
        check_query(query)
        with unavailable("forget"):
            await self._client.lrem(key, 0, query)

    async def user_history(self, user_id: str) -> list[HistoryEntry]:
        seen, counts = self.user_keys(check_id("user_id", user_id))
        with unavailable("user_history"):
            by_recency, counts_flat = await self._history(keys=[seen, counts])
        count_of = dict(zip(counts_flat[::2], counts_flat[1::2], strict=True))
        # Both keys share a TTL but expire separately; a query without a count is mid-expiry.
        return [
            HistoryEntry(query, int(count_of[query]), float(last_used))
            for query, last_used in zip(by_recency[::2], by_recency[1::2], strict=True)
            if query in count_of
        ]

    async def record_user(self, user_id: str, query: str, now: float | None = None) -> None:
        keys = list(self.user_keys(check_id("user_id", user_id)))
        check_query(query)
        when = time.time() if now is None else float(now)
        args: list[str | int] = [
            query,
            repr(when),
            self.config.user_history_size,
            _ms(self.config.user_ttl_s),
        ]
        with unavailable("record_user"):
            await self._record_user(keys=keys, args=args)

    async def forget_user(self, user_id: str, query: str | None = None) -> None:
        seen, counts = self.user_keys(check_id("user_id", user_id))
        if query is not None:
            check_query(query)
        index = self.session_index_key(user_id)
        with unavailable("forget_user"):
            for _ in range(_FORGET_ATTEMPTS):
                sessions = cast(list[str], await self._client.zrange(index, 0, -1))
                keys = [seen, counts, index, *sessions]
                if int(await self._forget_user(keys=keys, args=[query or ""])) == 1:
                    return
        raise SessionStoreUnavailable(
            f"forget_user: the user's sessions kept changing ({_FORGET_ATTEMPTS} attempts)"
        )

    async def ping(self) -> bool:
        try:
            return bool(await self._client.ping())
        except Exception:  # noqa: BLE001 - a health check reports, it never raises
            return False

    async def close(self) -> None:
        """Close pooled connections; never raises, so shutdown cannot fail on a dead Redis."""
        try:
            await self._client.aclose()
        except (RedisError, OSError):
            pass
