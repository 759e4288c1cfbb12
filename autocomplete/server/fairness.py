"""Per-client limits across workers: the local `ClientTable`, kept honest by a shared ledger.

Every decision is made locally first (exact for this process, no waiting). With Redis, a
handshake also asks the shared ledger whether the client already holds its share on other
workers and hosts (waiting at most `deadline_s`; an unreachable ledger fails open to the
local limit, counted in metrics), and once per `sync_s` a background task adds this
process's frame counts to the client's shared window: a client over `rate * window + burst`
in the window is throttled here until the window ends, whichever worker it flooded.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from session_store.errors import SessionStoreUnavailable
from session_store.ledger import RedisLedger

from .clients import ClientTable
from .deadline import within
from .metrics import ServerMetrics
from .pseudonyms import Pseudonyms

log = logging.getLogger("autocomplete.server")

#: Seconds a socket's entry in the shared ledger lives without a heartbeat.
CONN_TTL_S = 30.0
#: Length of the shared frame-count window.
WINDOW_S = 10.0


class ClientLimits:
    def __init__(
        self,
        table: ClientTable,
        ledger: RedisLedger | None,
        pseudonyms: Pseudonyms,
        metrics: ServerMetrics,
        *,
        deadline_s: float,
        sync_s: float = 1.0,
    ) -> None:
        self.table = table
        self.ledger = ledger
        self.pseudonyms = pseudonyms
        self.metrics = metrics
        self.deadline_s = deadline_s
        self.sync_s = sync_s
        self._keys: dict[str, str] = {}  # address -> pseudonym, for the ledger
        self._pending: set[asyncio.Task[None]] = set()
        self._last_heartbeat = 0.0

    def key(self, address: str) -> str:
        """The client's pseudonym: what the ledger and the logs see instead of the address."""
        key = self._keys.get(address)
        if key is None:
            if len(self._keys) > 4 * self.table.max_clients:
                self._keys.clear()
            key = self._keys[address] = self.pseudonyms.of("client", address)
        return key

    async def admit(self, address: str, conn_id: str) -> bool:
        if not self.table.admit(address, conn_id):
            return False
        if self.ledger is None:
            return True
        try:
            join = self.ledger.join(
                self.key(address), conn_id, self.table.max_connections, CONN_TTL_S
            )
            shared_ok = await within(join, self.deadline_s)
        except (SessionStoreUnavailable, TimeoutError):
            self.metrics.store_failures.labels("ledger").inc()
            return True  # fail open: the local limit still holds
        if not shared_ok:
            self.table.release(address, conn_id)
        return shared_ok

    def release(self, address: str, conn_id: str) -> None:
        self.table.release(address, conn_id)
        if self.ledger is not None:
            self._background(self.ledger.leave(self.key(address), conn_id))

    def allow_frame(self, address: str) -> bool:
        return self.table.allow_frame(address)

    async def sync(self) -> None:
        """Share this process's frame counts and renew its sockets in the ledger once."""
        counts = self.table.take_frame_counts()
        if self.ledger is None:
            return
        budget = self.table.rate_per_s * WINDOW_S + self.table.burst
        by_key = {self.key(a): (a, n) for a, n in counts.items()}
        try:
            totals = await self.ledger.add_frames({k: n for k, (_, n) in by_key.items()}, WINDOW_S)
            now = time.monotonic()
            if now - self._last_heartbeat >= CONN_TTL_S / 3:
                conns = {self.key(a): ids for a, ids in self.table.connections().items()}
                await self.ledger.heartbeat(conns, CONN_TTL_S)
                self._last_heartbeat = now
        except SessionStoreUnavailable:
            self.metrics.store_failures.labels("ledger").inc()
            return
        window_left = WINDOW_S - (time.time() % WINDOW_S)
        for key, total in totals.items():
            if total > budget:
                address = by_key[key][0]
                self.table.throttle(address, time.monotonic() + window_left)
                self.metrics.client_throttles.inc()
                log.info("client %s throttled: %d frames in %gs window", key, total, WINDOW_S)

    async def run(self) -> None:
        """Sync forever (cancelled at shutdown)."""
        while True:
            await asyncio.sleep(self.sync_s)
            try:
                await self.sync()
            except Exception:  # a bug here must not end the limits for good
                log.exception("client limits not synced")

    async def close(self) -> None:
        for task in list(self._pending):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(task, 0.5)
        if self.ledger is not None:
            await self.ledger.close()

    def _background(self, coro: object) -> None:
        async def guarded() -> None:
            with contextlib.suppress(SessionStoreUnavailable, TimeoutError):
                await within(coro, 1.0)  # type: ignore[arg-type]

        task = asyncio.create_task(guarded())
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)
