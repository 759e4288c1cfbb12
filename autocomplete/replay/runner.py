"""Many sessions at once: C connections, each replaying whole sessions in log order.

Sessions are handed out in order to `concurrency` workers; finished sessions are folded into
the report strictly in session order (a small reorder buffer), so totals and the JSONL file
are the same on every run whatever the interleaving. Before any session starts, one probe
connection checks the URL: a refused connection or bad URL is `ServerUnreachable` at once,
not thirty seconds of retries per session.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from autocomplete.client import ConnectFailed, QacClient, check_url

from .client import ClientSettings, SessionReplay
from .errors import ServerGone, ServerUnreachable
from .outcome import ReplayReport, SessionOutcome
from .plan import SessionPlan


@dataclass(frozen=True)
class ReplaySettings:
    """concurrency: sessions replayed at once (one connection each).
    part: which split part the sessions come from (reported only).
    seen_known: whether `is_seen` really looks targets up (else "seen" is left empty).
    """

    concurrency: int = 8
    part: str = "test"
    seen_known: bool = False
    client: ClientSettings = field(default_factory=ClientSettings)

    def __post_init__(self) -> None:
        if self.concurrency < 1:
            raise ValueError(f"--concurrency must be >= 1, got {self.concurrency}")


class _InOrder:
    """Calls `sink` with items pushed by index, in index order, as soon as each is due."""

    def __init__(self, sink: Callable[[SessionOutcome], None]) -> None:
        self.sink = sink
        self.next = 0
        self.pending: dict[int, SessionOutcome] = {}

    def push(self, position: int, item: SessionOutcome) -> None:
        self.pending[position] = item
        while self.next in self.pending:
            self.sink(self.pending.pop(self.next))
            self.next += 1


async def probe(url: str, open_timeout_s: float) -> dict[str, Any]:
    """One connection that must succeed first time: the server's `hello`, or an error."""
    try:
        check_url(url)
        conn = await QacClient.connect(url, open_timeout_s=open_timeout_s)
    except ConnectFailed as exc:
        raise ServerUnreachable(f"cannot connect to {url}: {exc.reason}") from None
    await conn.close()
    return dict(conn.hello.frame)


async def replay_sessions(
    url: str,
    plans: Sequence[SessionPlan],
    settings: ReplaySettings,
    is_seen: Callable[[str], bool] = lambda _: False,
    *,
    progress: Callable[[int], None] | None = None,
    on_session: Callable[[SessionOutcome], None] | None = None,
) -> tuple[ReplayReport, dict[str, Any]]:
    """Replay `plans`; returns the report and the probe's `hello`.

    on_session: called with each finished session, in session order (e.g. a JSONL writer).
    Raises `ServerUnreachable` when the probe fails and `ServerGone` when the server goes
    away mid-run for longer than the reconnect deadline (the other sessions are cancelled).
    """
    hello = await probe(url, settings.client.open_timeout_s)
    report = ReplayReport(
        url, settings.part, settings.client.k, settings.seen_known, settings.concurrency
    )
    report.index_versions.add(str(hello.get("index")))

    def sink(outcome: SessionOutcome) -> None:
        report.add(outcome)
        if on_session is not None:
            on_session(outcome)

    ordered = _InOrder(sink)
    todo = iter(enumerate(plans))

    async def worker() -> None:
        for position, plan in todo:  # a shared iterator: each plan goes to one worker
            outcome = await SessionReplay(url, plan, settings.client, is_seen, progress).run()
            ordered.push(position, outcome)

    t0 = time.perf_counter()
    try:
        async with asyncio.TaskGroup() as tg:
            for _ in range(min(settings.concurrency, max(len(plans), 1))):
                tg.create_task(worker())
    except BaseExceptionGroup as group:
        gone = group.subgroup(ServerGone)
        if gone is None:
            raise
        first = _leaves(gone)[0]
        raise ServerGone(f"{first} after {report.sessions} of {len(plans)} sessions") from None
    report.seconds = time.perf_counter() - t0
    return report, hello


def run_replay(
    url: str,
    plans: Sequence[SessionPlan],
    settings: ReplaySettings,
    is_seen: Callable[[str], bool] = lambda _: False,
    **options: Any,
) -> tuple[ReplayReport, dict[str, Any]]:
    """`replay_sessions` on a fresh event loop (for the CLI and synchronous callers)."""
    return asyncio.run(replay_sessions(url, plans, settings, is_seen, **options))


def _leaves(group: BaseExceptionGroup[Any]) -> list[BaseException]:
    out: list[BaseException] = []
    for exc in group.exceptions:
        out.extend(_leaves(exc) if isinstance(exc, BaseExceptionGroup) else [exc])
    return out
