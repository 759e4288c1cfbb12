"""`ClientTable`: what one client address may open and send, with time driven by hand."""

from __future__ import annotations

from autocomplete.server.clients import ClientTable


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def table(clock: Clock) -> ClientTable:
    return ClientTable(20, 200.0, 400, handshake_rate_per_s=2.0, handshake_burst=3, clock=clock)


def test_an_address_opens_a_burst_of_sockets_then_at_its_rate() -> None:
    clock = Clock()
    t = table(clock)
    assert [t.allow_handshake("a") for _ in range(4)] == [True, True, True, False]
    clock.now = 0.5  # one token back at 2 per second
    assert [t.allow_handshake("a") for _ in range(2)] == [True, False]


def test_one_address_reconnecting_in_a_loop_leaves_others_their_share() -> None:
    t = table(Clock())
    while t.allow_handshake("loop"):
        pass
    assert t.allow_handshake("neighbour")
