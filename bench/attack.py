"""A well-behaved neighbour's latency with and without a hostile client, in one run.

The server (`autocomplete serve`, Redis behind a proxy that can add latency) serves one
neighbour: an authenticated user typing real held-out sessions of the log at a human pace.
Phase "calm": the neighbour alone. Phase "attack": the same neighbour while a hostile client,
from two other addresses, at once

* claims the neighbour's user id (`?user=`, a cookie, an unsigned token) and their session id,
  and tries to read their recent searches and `forget` them;
* sends frames of 32,000 combining marks and lone surrogates, in a loop;
* opens 1,000 WebSockets from a second address and keeps the admitted ones idle;
* holds half-sent HTTP requests open;
* and Redis answers every request 40 ms late.

Reported: the neighbour's round trip p50/p99 per phase and their ratio (the target is p99
within 2x of calm), what the attacker achieved (sockets admitted, frames answered, history
of the neighbour seen: must be 0), and the server's refusal counters. Ratios, not absolute
times. The server gets half the CPUs to itself and the clients the other half, the attacker
niced below the neighbour: on a network they would be different machines, and what is
measured is what the attack costs the server, not the load generator's share of a core.

The phases alternate, calm then attack, `--rounds` times; percentiles pool each condition's
round trips over the rounds (and each round's p99 is reported too).

    .venv/bin/python bench/attack.py [--index DIR] [--phase-s 20] [--rounds 3] [--json out.json]

Writes bench/results/attack-<time>.json. Not run in CI.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from autocomplete.server.auth import mint_token  # noqa: E402
from bench.load import _cpu_s as server_cpu_s  # noqa: E402
from bench.load import _wait_ready as wait_ready  # noqa: E402
from tests.redis_server import RedisServer, free_port  # noqa: E402
from tests.security.delay_proxy import DelayProxy  # noqa: E402

SAMPLE_LOG = ROOT / "data" / "sample" / "aol-sample.tsv.gz"
RESULTS = ROOT / "bench" / "results"
SECRET = "bench-only-jwt-secret-0123456789abcdef"
HEALTH = "bench-health-token"
# Linux routes all of 127/8 to loopback, so each party connects from an address of its own,
# as it would over a network (no forwarding headers, no trusted proxy).
NEIGHBOUR_ADDR, ATTACKER_ADDR = "127.0.0.10", "127.0.0.66"
#: The attacker's second address, from which it opens its 1,000 sockets.
HOARDER_ADDR = "127.0.0.67"
MARKS = "\u0301" * 32_000
ATTACKS = ("forged", "frames", "sockets", "slowloris", "slow-redis")


def neighbour_keystrokes(log: Path, limit: int) -> list[tuple[str, str]]:
    """("complete", prefix) / ("submit", query) steps of real held-out sessions."""
    from indexer.dataset import load_split

    steps: list[tuple[str, str]] = []
    for s in load_split([log]).test[:limit]:
        for q in s.queries:
            steps += [("complete", q[:i]) for i in range(1, len(q))]
            steps.append(("submit", q))
    return steps


def build_index(out: Path) -> Path:
    from indexer.build import build_index as build
    from indexer.params import BuildParams

    build([SAMPLE_LOG], out, BuildParams(model="mpc"))
    return out


def start_server(index: Path, redis_url: str, log: Any) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("QAC_")}
    env.update(
        QAC_JWT_SECRET=SECRET,
        QAC_HEALTH_TOKEN=HEALTH,
        QAC_SESSION_SECRET="bench-only-session-secret-0123456789abcdef",
    )
    cmd = [sys.executable, "-m", "autocomplete.cli", "serve", "--index", str(index)]
    cmd += ["--port", str(port), "--redis", redis_url, "--log-level", "warning"]
    proc = subprocess.Popen(
        cmd,
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        preexec_fn=lambda: _pin(SERVER_CPUS),
    )
    wait_ready(f"http://127.0.0.1:{port}", proc)
    return proc, port


def _cpu_split() -> tuple[set[int], set[int]]:
    """(the server's CPUs, everyone else's): the attacker runs on its own machine in real
    life, so here it must not take the server's core; with one CPU, no split."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return set(cpus), set(cpus)
    half = len(cpus) // 2
    return set(cpus[:half]), set(cpus[half:])


SERVER_CPUS, CLIENT_CPUS = _cpu_split()


def _pin(cpus: set[int], nice: int = 0) -> None:
    os.sched_setaffinity(0, cpus)
    if nice:
        os.nice(nice)


def source(addr: str) -> dict[str, object]:
    """Connection options that make a socket come from `addr`."""
    return {"local_addr": (addr, 0)}


async def neighbour(
    url: str, steps: list[tuple[str, str]], seconds: float, pace_s: float, session: str | None
) -> tuple[list[float], str]:
    """Type `steps` for `seconds`; returns round trips (ms) of completes, and the session."""
    token = mint_token(SECRET, "neighbour", ttl_s=3600, now=time.time())
    target = f"{url}?token={token}" + (f"&session={session}" if session else "")
    rtts: list[float] = []
    async with connect(target, **source(NEIGHBOUR_ADDR), max_size=None) as ws:
        hello = json.loads(await ws.recv())
        end = time.monotonic() + seconds
        i = 0
        while time.monotonic() < end:
            kind, text = steps[i % len(steps)]
            i += 1
            field = "prefix" if kind == "complete" else "query"
            t0 = time.perf_counter()
            await ws.send(json.dumps({"type": kind, "id": i, field: text}))
            while True:
                reply = json.loads(await ws.recv())
                if reply.get("id") == i:
                    break
            if kind == "complete":
                rtts.append((time.perf_counter() - t0) * 1000)
            await asyncio.sleep(pace_s)
    return rtts, str(hello["session"])


class Attack:
    """Everything the hostile client does, until `stop` is set; counts what it achieved."""

    def __init__(self, url: str, port: int, neighbour_session: str) -> None:
        self.url = url
        self.port = port
        self.session = neighbour_session
        self.stop = asyncio.Event()
        self.stats: dict[str, int] = {
            "sockets_admitted": 0,
            "sockets_refused": 0,
            "hostile_frames_sent": 0,
            "hostile_frames_served": 0,
            "neighbour_items_seen": 0,
            "forged_identity_connections": 0,
            "half_open_requests": 0,
        }
        self._held: list[ClientConnection] = []

    async def run(self, kinds: set[str]) -> None:
        parts = {
            "forged": self._forged_identities,
            "frames": self._hostile_frames,
            "sockets": self._many_sockets,
            "slowloris": self._slowloris,
        }
        await asyncio.gather(*(run() for kind, run in parts.items() if kind in kinds))
        for ws in self._held:
            with contextlib.suppress(Exception):
                await ws.close()

    async def _forged_identities(self) -> None:
        unsigned = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJuZWlnaGJvdXIiLCJleHAiOjk5OTk5OTk5OTl9."
        claims = [
            f"{self.url}?user=neighbour",
            f"{self.url}?token={unsigned}",
            f"{self.url}?session={self.session}",
        ]
        while not self.stop.is_set():
            for target in claims:
                with contextlib.suppress(Exception):
                    async with connect(target, **source(ATTACKER_ADDR), max_size=None) as ws:
                        await ws.recv()
                        self.stats["forged_identity_connections"] += 1
                        await ws.send(json.dumps({"type": "complete", "id": 1, "prefix": ""}))
                        reply = json.loads(await ws.recv())
                        mine = {"neighbour private query one"}
                        seen = [i for i in reply.get("items", []) if i.get("text") in mine]
                        self.stats["neighbour_items_seen"] += len(seen)
                        await ws.send(json.dumps({"type": "forget", "id": 2, "all": True}))
                        await ws.recv()
            await asyncio.sleep(0.05)

    async def _hostile_frames(self) -> None:
        frames = [
            json.dumps({"type": "complete", "id": 1, "prefix": "a" + MARKS}),
            json.dumps({"type": "submit", "id": 2, "query": "n\udc00"}),
            json.dumps({"type": "complete", "id": 3, "prefix": "e" + "\u0301" * 31}),
        ]
        while not self.stop.is_set():
            with contextlib.suppress(Exception):
                async with connect(self.url, **source(ATTACKER_ADDR), max_size=None) as ws:
                    await ws.recv()
                    while not self.stop.is_set():
                        for frame in frames:
                            await ws.send(frame)
                            self.stats["hostile_frames_sent"] += 1
                            reply = json.loads(await ws.recv())
                            if reply.get("type") != "error":
                                self.stats["hostile_frames_served"] += 1
            await asyncio.sleep(0.01)

    async def _many_sockets(self) -> None:
        for _ in range(1000):
            if self.stop.is_set():
                return
            try:
                ws = await connect(self.url, **source(HOARDER_ADDR), open_timeout=5)
            except InvalidStatus:
                self.stats["sockets_refused"] += 1
                continue
            except (OSError, TimeoutError):
                self.stats["sockets_refused"] += 1
                continue
            self.stats["sockets_admitted"] += 1
            self._held.append(ws)  # and never sends: idle until the server closes it
        await self.stop.wait()

    async def _slowloris(self) -> None:
        """Keep up to 200 requests trickling a header line at a time (topped up every 2 s:
        holding sockets is the attack; a connect flood is a network-level one)."""
        socks: list[socket.socket] = []
        ticks = 0
        while not self.stop.is_set():
            if ticks % 10 == 0:
                while len(socks) < 200:
                    s = socket.socket()
                    s.bind((ATTACKER_ADDR, 0))
                    s.setblocking(False)
                    with contextlib.suppress(BlockingIOError, OSError):
                        s.connect(("127.0.0.1", self.port))
                    socks.append(s)
                    self.stats["half_open_requests"] += 1
            ticks += 1
            await asyncio.sleep(0.2)
            for s in socks:
                with contextlib.suppress(OSError):
                    s.send(b"GET / HTTP/1.1\r\n" if ticks == 1 else b"X-a: b\r\n")
            socks = [s for s in socks if _alive(s)]
        for s in socks:
            s.close()


def _alive(s: socket.socket) -> bool:
    try:
        if s.recv(1, socket.MSG_PEEK) == b"":
            s.close()
            return False
    except BlockingIOError:
        return True
    except OSError:
        s.close()
        return False
    return True


def percentiles(values: list[float]) -> dict[str, float]:
    a = np.asarray(values)
    return {
        "n": len(values),
        "p50": float(np.percentile(a, 50)),
        "p99": float(np.percentile(a, 99)),
    }


def metrics(port: int) -> dict[str, float]:
    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        text = r.read().decode()
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name in (
                "qac_refused_connections_total",
                "qac_server_closes_total",
                "qac_store_breaker_opens_total",
                "qac_errors_total",
                "qac_client_throttles_total",
            ):
                label = ",".join(f"{k}={v}" for k, v in s.labels.items())
                out[f"{s.name}{{{label}}}"] = s.value
    return out


async def run(args: argparse.Namespace, index: Path) -> dict[str, Any]:
    steps = neighbour_keystrokes(SAMPLE_LOG, 200)
    with RedisServer() as redis, open(tempfile.mktemp(suffix=".log"), "wb") as log:
        # The slow Redis is a process of its own too (SIGUSR1: +40 ms, SIGUSR2: none).
        proxy_port = free_port()
        proxy = subprocess.Popen(
            [sys.executable, __file__, "--proxy", str(redis.port), str(proxy_port)]
        )
        time.sleep(1.0)
        proc, port = start_server(index, f"redis://127.0.0.1:{proxy_port}/0", log)
        url = f"ws://127.0.0.1:{port}/ws"
        try:
            # The neighbour's private history, which the attacker will try to read.
            private = [("submit", "neighbour private query one")]
            _, session = await neighbour(url, private, 0.01, 0.0, None)
            calm_rtts: list[float] = []
            hot_rtts: list[float] = []
            calm_cpu = hot_cpu = 0.0
            attack_stats: dict[str, int] = {}
            counters: dict[str, float] = {}
            per_round = []
            # Calm and attack alternate (calm, attack, calm, attack, ...): a slow drift of the
            # shared machine then weighs on both conditions alike instead of on one phase.
            for _ in range(args.rounds):
                cpu0 = server_cpu_s(proc.pid)
                calm, session = await neighbour(url, steps, args.phase_s, args.pace_s, session)
                calm_cpu += server_cpu_s(proc.pid) - cpu0
                hot, stats, diff, cpu = await attack_phase(
                    args, url, port, proxy, proc, steps, session
                )
                hot_cpu += cpu
                calm_rtts += calm
                hot_rtts += hot
                for k, v in stats.items():
                    attack_stats[k] = attack_stats.get(k, 0) + v
                for k, v in diff.items():
                    counters[k] = counters.get(k, 0.0) + v
                per_round.append(
                    {"calm_p99": percentiles(calm)["p99"], "attack_p99": percentiles(hot)["p99"]}
                )
        finally:
            proc.terminate()
            proc.wait(30)
            proxy.terminate()
            proxy.wait(30)
    calm, hot = percentiles(calm_rtts), percentiles(hot_rtts)
    return {
        "calm": calm,
        "attack": hot,
        "p50_ratio": hot["p50"] / calm["p50"],
        "p99_ratio": hot["p99"] / calm["p99"],
        # share of one core the server used in each phase (less noisy than latency on a
        # shared machine: what the attack costs the server itself)
        "server_cpu_share": {
            "calm": calm_cpu / (args.phase_s * args.rounds),
            "attack": hot_cpu / (args.phase_s * args.rounds),
        },
        "rounds": per_round,
        "attacker": attack_stats,
        "server_counters_during_attack": counters,
        "settings": {
            "phase_s": args.phase_s,
            "rounds": args.rounds,
            "pace_s": args.pace_s,
            "redis_delay_ms": 40 if "slow-redis" in args.attacks else 0,
            "attacks": sorted(args.attacks),
            "server_cpus": sorted(SERVER_CPUS),
            "client_cpus": sorted(CLIENT_CPUS),
            "attacker_nice": 19,
        },
    }


async def attack_phase(
    args: argparse.Namespace,
    url: str,
    port: int,
    proxy: subprocess.Popen[bytes],
    server: subprocess.Popen[bytes],
    steps: list[tuple[str, str]],
    session: str,
) -> tuple[list[float], dict[str, int], dict[str, float], float]:
    """One attack phase: (neighbour's round trips, what the attacker achieved, the server's
    counter increments, the server's CPU seconds)."""
    before = metrics(port)
    if "slow-redis" in args.attacks:
        proxy.send_signal(signal.SIGUSR1)
    # The attacker is a process of its own, as it would be: it must not share this process's
    # event loop (or GIL) with the neighbour it is measured against.
    attacker = subprocess.Popen(
        # niced: on the clients' CPUs the neighbour's own process must not queue behind the
        # attacker's (on a real network they would be two machines)
        preexec_fn=lambda: _pin(CLIENT_CPUS, nice=19),
        args=[
            sys.executable,
            __file__,
            "--attacker",
            url,
            str(port),
            session,
            str(args.phase_s + 3.0),
            ",".join(sorted(args.attacks)),
        ],
        stdout=subprocess.PIPE,
    )
    await asyncio.sleep(2.0)  # let the attack reach full strength first
    cpu0 = server_cpu_s(server.pid)
    rtts, _ = await neighbour(url, steps, args.phase_s, args.pace_s, session)
    cpu = server_cpu_s(server.pid) - cpu0
    out, _ = await asyncio.to_thread(attacker.communicate, timeout=60)
    stats = json.loads(out.decode().strip().splitlines()[-1])
    proxy.send_signal(signal.SIGUSR2)
    after = metrics(port)
    return rtts, stats, {k: after.get(k, 0.0) - before.get(k, 0.0) for k in after}, cpu


async def attacker_main(url: str, port: int, session: str, seconds: float, kinds: set[str]) -> None:
    attack = Attack(url, port, session)
    task = asyncio.create_task(attack.run(kinds))
    await asyncio.sleep(seconds)
    attack.stop.set()
    with contextlib.suppress(TimeoutError, asyncio.CancelledError):
        await asyncio.wait_for(task, 20)
    print(json.dumps(attack.stats), flush=True)


def proxy_main(upstream: int, listen: int) -> None:
    proxy = DelayProxy(upstream, 0.0, port=listen)

    def slow(*_: object) -> None:
        proxy.delay_s = 0.04

    def fast(*_: object) -> None:
        proxy.delay_s = 0.0

    signal.signal(signal.SIGUSR1, slow)
    signal.signal(signal.SIGUSR2, fast)
    with proxy:
        signal.pause()


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--proxy"]:
        proxy_main(int(argv[1]), int(argv[2]))
        return 0
    if argv[:1] == ["--attacker"]:
        url, port, session, seconds, kinds = argv[1:6]
        asyncio.run(attacker_main(url, int(port), session, float(seconds), set(kinds.split(","))))
        return 0
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--index", type=Path, help="index to serve (default: MPC of the sample log)")
    p.add_argument("--phase-s", type=float, default=20.0, help="seconds per phase")
    p.add_argument(
        "--rounds", type=int, default=3, help="calm/attack phase pairs, alternating (default 3)"
    )
    p.add_argument("--pace-s", type=float, default=0.05, help="neighbour's pause between keys")
    p.add_argument("--json", type=Path, help="where to write the report")
    p.add_argument(
        "--attacks",
        type=lambda v: set(v.split(",")),
        default=set(ATTACKS),
        help=f"comma-separated subset of {','.join(ATTACKS)} (default: all at once)",
    )
    args = p.parse_args(argv)
    index = args.index or build_index(Path(tempfile.mkdtemp()) / "mpc")
    _pin(CLIENT_CPUS)  # the neighbour, the proxy and Redis share the clients' CPUs
    report = asyncio.run(run(args, index))
    print(f"{'phase':<8} {'keystrokes':>10} {'p50 ms':>8} {'p99 ms':>8}")
    for phase in ("calm", "attack"):
        r = report[phase]
        print(f"{phase:<8} {r['n']:>10} {r['p50']:>8.2f} {r['p99']:>8.2f}")
    print(f"ratio    {'':>10} {report['p50_ratio']:>7.2f}x {report['p99_ratio']:>7.2f}x")
    rounds = ", ".join(f"{r['calm_p99']:.2f} -> {r['attack_p99']:.2f}" for r in report["rounds"])
    print(f"p99 ms per round (calm -> attack): {rounds}")
    cpu = report["server_cpu_share"]
    print(f"server CPU (share of a core): calm {cpu['calm']:.2f}, attack {cpu['attack']:.2f}")
    print("attacker:", json.dumps(report["attacker"]))
    print("server:", json.dumps(report["server_counters_during_attack"]))
    out = args.json or RESULTS / f"attack-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
