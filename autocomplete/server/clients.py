"""Fair shares per client address: how many sockets one address may hold, how fast it may send.

Per-connection limits (`ratelimit.FloodGuard`) do not stop one client from opening every
slot, or from spreading a flood over many sockets. `ClientTable` keeps, per client address
(`peers.Peer.address`): the open connections, a token bucket for frames shared by all of them,
a token bucket for new connections (a reconnect loop costs a full handshake each time: auth,
session signing, the ledger, the hello frame, so it is refused before any of that), and a
"throttled until" time that the cross-worker ledger can set (`ClientLimits.sync`).

Pure: the clock is injected; memory is bounded by `max_clients` (idle entries go first).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from .ratelimit import TokenBucket

Clock = Callable[[], float]


@dataclass
class _Client:
    bucket: TokenBucket
    handshakes: TokenBucket
    open: int = 0
    frames: int = 0  # since the last `take_frame_counts`
    throttled_until: float = 0.0
    conn_ids: set[str] = field(default_factory=set)


class ClientTable:
    """max_connections: sockets one address may hold in this process.
    rate_per_s, burst: frames per second from one address, over all its sockets.
    handshake_rate_per_s, handshake_burst: new sockets per second from one address.
    max_clients: addresses remembered; beyond it idle ones (no socket open) are dropped.
    """

    def __init__(
        self,
        max_connections: int,
        rate_per_s: float,
        burst: int,
        *,
        handshake_rate_per_s: float = 10.0,
        handshake_burst: int = 40,
        max_clients: int = 100_000,
        clock: Clock = time.monotonic,
    ) -> None:
        self.max_connections = max_connections
        self.rate_per_s = rate_per_s
        self.burst = burst
        self.handshake_rate_per_s = handshake_rate_per_s
        self.handshake_burst = handshake_burst
        self.max_clients = max_clients
        self._clock = clock
        self._clients: dict[str, _Client] = {}

    def __len__(self) -> int:
        return len(self._clients)

    def open_count(self, client: str) -> int:
        entry = self._clients.get(client)
        return 0 if entry is None else entry.open

    def admit(self, client: str, conn_id: str) -> bool:
        """Count a new socket from `client`; False (nothing counted) when it holds its share."""
        entry = self._entry(client)
        if entry.open >= self.max_connections:
            return False
        entry.open += 1
        entry.conn_ids.add(conn_id)
        return True

    def allow_handshake(self, client: str) -> bool:
        """Spend one of the address's new-connection tokens; False when it opens sockets
        faster than its rate (a page load opens one; only a loop opens dozens a second)."""
        return self._entry(client).handshakes.take()

    def release(self, client: str, conn_id: str) -> None:
        entry = self._clients.get(client)
        if entry is not None and conn_id in entry.conn_ids:
            entry.conn_ids.discard(conn_id)
            entry.open -= 1

    def allow_frame(self, client: str) -> bool:
        """Spend one of the address's frame tokens; False when it is over its rate."""
        entry = self._entry(client)
        entry.frames += 1
        if entry.throttled_until > self._clock():
            return False
        return entry.bucket.take()

    def throttle(self, client: str, until: float) -> None:
        """Refuse the address's frames until `until` (this table's clock)."""
        entry = self._clients.get(client)
        if entry is not None:
            entry.throttled_until = max(entry.throttled_until, until)

    def take_frame_counts(self) -> dict[str, int]:
        """Frames seen per address since the last call (for the shared ledger)."""
        out = {}
        for client, entry in self._clients.items():
            if entry.frames:
                out[client] = entry.frames
                entry.frames = 0
        return out

    def connections(self) -> dict[str, tuple[str, ...]]:
        """Open connection ids per address (for the shared ledger's heartbeat)."""
        return {c: tuple(e.conn_ids) for c, e in self._clients.items() if e.conn_ids}

    def _entry(self, client: str) -> _Client:
        entry = self._clients.get(client)
        if entry is None:
            if len(self._clients) >= self.max_clients:
                self._forget_idle()
            entry = _Client(
                TokenBucket(self.rate_per_s, self.burst, self._clock),
                TokenBucket(self.handshake_rate_per_s, self.handshake_burst, self._clock),
            )
            self._clients[client] = entry
        return entry

    def _forget_idle(self) -> None:
        """Drop addresses with no open socket and full buckets (nothing to remember), then,
        if still full, every address with no open socket."""
        idle = [c for c, e in self._clients.items() if e.open == 0]
        full = [
            c
            for c in idle
            if self._clients[c].bucket.tokens >= self.burst
            and self._clients[c].handshakes.tokens >= self.handshake_burst
        ]
        for client in full or idle:
            del self._clients[client]
