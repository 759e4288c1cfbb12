"""WebSocket load test: real sessions replayed keystroke by keystroke by N concurrent clients.

Targets are the bare uvicorn+Starlette echo server (`bench/echo_server.py`, the floor) and one
or more indexes served by `autocomplete serve`. Each (target, offered rate) pair is one run
with a freshly started server; runs go rate by rate, and within a rate through every target
(rate 1: echo, a, b; rate 2: echo, a, b; ...), so that noise on the machine over time hits all
targets alike. One run:

1. start the server as a subprocess on a free port and wait for /healthz. An index given as
   `NAME=DIR@SRC` is served by the code of the source tree SRC (a `git worktree` of an older
   commit, say): the server starts with `cwd=SRC` and `PYTHONPATH=SRC`, with this venv's
   python, so `python -m autocomplete.cli serve` imports SRC's packages. The echo server and
   the load generator always come from this tree;
2. start the client as a *separate process* (the server must not share its event loop or its
   GIL with the load generator), which opens N connections and says `ready`; when every
   client process is ready the parent closes their stdin, which is the `go` for all of them
   at once. For `--warmup` + `--duration` seconds each connection then sends, at `--rate`
   keystrokes per second in total, the next keystroke of the sessions it replays: `complete`
   for every proper prefix of each query of a real session from the log's test part, then
   `submit` of the query. A connection waits for the reply to one keystroke before sending
   the next (so no keystroke is superseded) and otherwise keeps to its schedule (if replies
   are slow it falls behind and says so: `late`);
3. report completions per second, round-trip p50/p99/p99.9 (send to matching reply), error
   frames and failures, server CPU use and CPU milliseconds per keystroke, and server RSS.

Warm-up: keystrokes *sent* in the first `--warmup` seconds after `go` are sent and their
replies awaited, but they count in no figure (latency, rates, errors, failures, late; the
report gives their number apart, under `warmup`). The parent, which gave the `go`, reads the
server's CPU time at `go + warmup` and at `go + warmup + duration` (sleeping in between), so
server CPU covers the measured window, not the connection set-up or the warm-up; the clients
read their own CPU time at the same two marks. The server's latency histogram is read at the
warm-up end and after the clients exit. RSS is sampled every few seconds from `go` and once at
the end, and its growth is judged from the warm-up end.

Sessions: with C connections in all and S test sessions, connection n starts at a random
position of session n % S and, when that session ends, goes on with session (n + C) % S, then
(n + 2C) % S, ...; n counts over all client processes, so no two connections replay the same
sequence and, connections going at about the same pace, no session recurs before all S have
been started (default `--sessions`: every test session). Each connection keeps its socket,
and so its server session and history, across the sessions it replays.

A rate far above capacity measures saturation: the achieved keystrokes/s and completions/s
are then the throughput at saturation (of the server and the load generator together: `cli
cpu` near 1.0 means the client is the limit). The machine running this is also running the
server: on a 2-core box the load generator competes with the server for CPU, so the numbers
are a floor, and the ratios to echo and to the baseline index (same client, same machine,
same run, same offered rate) are the figures to compare across machines.

    python bench/load.py --connections 200 --duration 30 --rate 2000
    python bench/load.py --connections 1000 --duration 10 --rate 2000 --targets qac
    python bench/load.py --log ../shared/data/aol/aol-top1000-2006-03-01_05-16.tsv.gz \\
        --index old=/tmp/perf/mpc@/tmp/oldsrc --index new=/tmp/perf/mpc \\
        --connections 200 --rate 500 2000 12000 --warmup 10 --duration 30

Writes bench/results/load-<time>.json. Not run in CI.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import random
import re
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_LOG = ROOT / "data" / "sample" / "aol-sample.tsv.gz"
RESULTS = ROOT / "bench" / "results"
REPLY_TIMEOUT_S = 10.0
ECHO = "echo"
DEFAULT_INDEX = "qac"
#: Achieved keystrokes/s below this share of the offered rate: the run is saturated.
SATURATED_BELOW = 0.95

Script = list[list[str]]  # [kind, text] steps


# -- targets ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """What one server runs: the echo floor (no index) or an index served by a source tree."""

    name: str
    index: Path | None
    src: Path = ROOT

    def describe(self) -> str:
        if self.index is None:
            return f"{self.name}: bench/echo_server.py"
        code = "this tree" if self.src == ROOT else str(self.src)
        return f"{self.name}: {self.index} (code: {code})"


def parse_index(value: str) -> Target:
    """`DIR`, `NAME=DIR` or `NAME=DIR@SRC` (a plain DIR is named "qac")."""
    name, sep, rest = value.partition("=")
    if not sep or "/" in name:
        name, rest = DEFAULT_INDEX, value
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", name) or name == ECHO:
        raise argparse.ArgumentTypeError(f"index name {name!r}: letters, digits, _.- and not echo")
    directory, at, src = rest.rpartition("@") if "@" in rest else (rest, "", "")
    index = Path(directory).expanduser().resolve()
    if not index.is_dir():
        raise argparse.ArgumentTypeError(f"{value}: no index folder {index}")
    tree = Path(src).expanduser().resolve() if at else ROOT
    if not (tree / "autocomplete").is_dir():
        raise argparse.ArgumentTypeError(f"{value}: {tree} has no autocomplete package")
    return Target(name, index, tree)


def resolve_targets(args: argparse.Namespace, workdir: Path) -> list[Target]:
    """The targets to run, in order; builds the MPC index of --log when no --index is given."""
    indexes: list[Target] = list(args.index or [])
    names = [t.name for t in indexes]
    if len(set(names)) < len(names):
        raise SystemExit(f"--index names must differ: {names}")
    wanted = (
        [t.strip() for t in args.targets.split(",") if t.strip()]
        if args.targets
        else [ECHO, *(names or [DEFAULT_INDEX])]
    )
    if not indexes and DEFAULT_INDEX in wanted:
        from indexer.build import build_index
        from indexer.params import BuildParams

        built = workdir / "index"
        build_index([args.log], built, BuildParams(model="mpc"))
        indexes = [Target(DEFAULT_INDEX, built)]
    known = {ECHO: Target(ECHO, None), **{t.name: t for t in indexes}}
    unknown = [w for w in wanted if w not in known]
    if unknown:
        raise SystemExit(f"--targets {unknown}: not among {sorted(known)}")
    return [known[w] for w in wanted]


# -- keystroke scripts -----------------------------------------------------------------------


def session_scripts(log: Path, limit: int) -> list[Script]:
    """Per test session: [kind, text] steps, each query typed key by key then submitted."""
    from indexer.dataset import load_split

    sessions = load_split([log]).test
    scripts = []
    for s in sessions[:limit]:
        steps = []
        for q in s.queries:
            steps += [["complete", q[:i]] for i in range(1, len(q))]
            steps.append(["submit", q])
        scripts.append(steps)
    if not scripts:
        raise SystemExit(f"{log}: no test sessions to replay")
    return scripts


def keystrokes(scripts: list[Script], first: int, stride: int, pos: int) -> Iterator[list[str]]:
    """Script `first` from step `pos`, then scripts first+stride, first+2*stride, ... (mod S)."""
    n = first % len(scripts)
    yield from scripts[n][pos:]
    while True:
        n = (n + stride) % len(scripts)
        yield from scripts[n]


# -- the client process ----------------------------------------------------------------------


@dataclass
class ClientResult:
    connections_opened: int = 0
    connect_failures: int = 0
    connect_s: float = 0.0
    completes: int = 0
    submits: int = 0
    errors: int = 0  # error frames
    failures: int = 0  # timeouts and dropped connections
    late: int = 0  # keystrokes sent more than one interval behind schedule
    measured_s: float = 0.0
    rtt_complete_ms: list[float] = field(default_factory=list)
    rtt_submit_ms: list[float] = field(default_factory=list)
    client_cpu_s: float = 0.0  # over the measured window
    # Keystrokes sent during the warm-up, and their error frames and failures (not measured).
    warmup_keystrokes: int = 0
    warmup_errors: int = 0
    warmup_failures: int = 0
    # The client's own full garbage collections from the go on: each stalls every round trip
    # in flight in this process, so a run with a long one measures the client, not the server.
    gc_full_passes: int = 0
    gc_max_pause_ms: float = 0.0


@dataclass(frozen=True)
class ClientSpec:
    url: str
    scripts: str  # path of the scripts' JSON, shared by every run
    connections: int  # in this process
    first: int  # global number of this process' first connection
    stride: int  # connections in all processes
    warmup_s: float
    duration_s: float
    rate: float  # keystrokes/s over this process' connections
    seed: int


@dataclass(frozen=True)
class Window:
    """Loop times of one run: load starts, measuring starts, sending stops."""

    start: float
    measure_from: float
    end: float


async def _replay(
    spec: ClientSpec, scripts: list[Script], ready: Callable[[], None]
) -> ClientResult:
    """Open every connection, call `ready` (blocks until the go), then replay and measure."""
    from websockets.asyncio.client import connect

    result = ClientResult()
    interval = spec.connections / spec.rate
    loop = asyncio.get_running_loop()
    all_open, go = asyncio.Event(), asyncio.Event()
    open_slots = asyncio.Semaphore(64)  # do not SYN-flood our own listen backlog
    pending_opens = [spec.connections]
    windows: list[Window] = []
    rng = random.Random(spec.seed)

    async def one(n: int) -> None:
        number = spec.first + n
        pos = rng.randrange(len(scripts[number % len(scripts)]))
        steps = keystrokes(scripts, number, spec.stride, pos)
        try:
            async with open_slots:
                ws = await connect(spec.url, max_size=None, ping_interval=None, open_timeout=60)
            await asyncio.wait_for(ws.recv(), REPLY_TIMEOUT_S)  # hello
        except Exception:
            result.connect_failures += 1
            ws = None
        pending_opens[0] -= 1
        if pending_opens[0] == 0:
            all_open.set()
        await go.wait()
        if ws is None:
            return
        result.connections_opened += 1
        w = windows[0]
        next_t = w.start + rng.random() * interval
        request_id = 0
        measured = False
        try:
            while True:
                now = loop.time()
                if now >= w.end:
                    break
                if next_t > now:
                    await asyncio.sleep(next_t - now)
                    now = loop.time()
                    if now >= w.end:
                        break
                elif now - next_t > interval:
                    result.late += now >= w.measure_from
                    next_t = now  # do not build up a backlog to fire in a burst
                measured = now >= w.measure_from
                kind, text = next(steps)
                request_id += 1
                frame = {
                    "type": kind,
                    "id": request_id,
                    ("prefix" if kind == "complete" else "query"): text,
                }
                t0 = time.perf_counter()
                await ws.send(json.dumps(frame))
                while True:
                    reply = json.loads(await asyncio.wait_for(ws.recv(), REPLY_TIMEOUT_S))
                    if reply.get("id") == request_id:
                        break
                rtt_ms = (time.perf_counter() - t0) * 1000.0
                next_t += interval
                if not measured:
                    result.warmup_keystrokes += 1
                    result.warmup_errors += reply.get("type") == "error"
                elif reply.get("type") == "error":
                    result.errors += 1
                elif kind == "complete":
                    result.completes += 1
                    result.rtt_complete_ms.append(rtt_ms)
                else:
                    result.submits += 1
                    result.rtt_submit_ms.append(rtt_ms)
        except Exception:
            if measured:
                result.failures += 1
            else:
                result.warmup_failures += 1
        finally:
            await ws.close()

    t_open = loop.time()
    tasks = [asyncio.create_task(one(n)) for n in range(spec.connections)]
    await all_open.wait()
    result.connect_s = loop.time() - t_open
    await loop.run_in_executor(None, ready)
    start = loop.time()
    windows.append(Window(start, start + spec.warmup_s, start + spec.warmup_s + spec.duration_s))
    cpu_marks: list[float] = []
    for t in (windows[0].measure_from, windows[0].end):
        loop.call_at(t, lambda: cpu_marks.append(time.process_time()))
    go.set()
    await asyncio.gather(*tasks)
    result.measured_s = min(loop.time() - windows[0].measure_from, spec.duration_s)
    marks = cpu_marks + [time.process_time()] * (2 - len(cpu_marks))  # all failed early
    result.client_cpu_s = marks[1] - marks[0]
    return result


def _ready_then_wait_for_go() -> None:
    """Tell the parent every connection is open; its closing our stdin is the go."""
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    sys.stdin.read()


def client_main(argv: list[str]) -> None:
    """`load.py client SPEC.json OUT.json`: replay, write a ClientResult as JSON."""
    spec = ClientSpec(**json.loads(Path(argv[0]).read_text()))
    scripts = json.loads(Path(spec.scripts).read_text())
    # The scripts of a full test part are ~450,000 small lists that live for the whole run; a
    # full collection walking them takes ~150 ms, a stall of every round trip in flight that
    # the report would charge to the server. Frozen, collections skip them; the report says
    # how many full collections the client made and the longest.
    gc.collect()
    gc.freeze()
    _raise_fd_limit()
    pauses: list[float] = []
    started = [0.0]

    def timed(phase: str, info: dict[str, int]) -> None:
        if info["generation"] == 2:
            if phase == "start":
                started[0] = time.perf_counter()
            else:
                pauses.append(time.perf_counter() - started[0])

    gc.callbacks.append(timed)
    result = asyncio.run(_replay(spec, scripts, _ready_then_wait_for_go))
    result.gc_full_passes = len(pauses)
    result.gc_max_pause_ms = round(max(pauses, default=0.0) * 1000, 2)
    Path(argv[1]).write_text(json.dumps(asdict(result)))


# -- servers and measurement -----------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def _tree(pid: int) -> list[int]:
    """The process and all its descendants (uvicorn workers)."""
    pids, todo = [], [pid]
    while todo:
        p = todo.pop()
        pids.append(p)
        try:
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            pass
    return pids


def _rss_mb(pid: int) -> float:
    total = 0
    for p in _tree(pid):
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


def _cpu_s(pid: int) -> float:
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for p in _tree(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        except OSError:
            pass
    return total / ticks


RSS_SAMPLE_S = 5.0


def _sample_rss(
    pid: int,
    clients: list[subprocess.Popen[bytes]],
    t0: float,
    timeline: list[tuple[float, float]],
    until: float | None = None,
) -> None:
    """Until `until` (monotonic) or the clients' exit, add the server's RSS every few seconds."""
    while any(c.poll() is None for c in clients):
        now = time.monotonic()
        if until is not None and now >= until:
            return
        time.sleep(min(0.5, until - now) if until is not None else 0.5)
        t = time.monotonic() - t0
        if t - timeline[-1][0] >= RSS_SAMPLE_S:
            timeline.append((round(t, 1), round(_rss_mb(pid), 1)))


def _rss_growth(timeline: list[tuple[float, float]], warmup_s: float) -> dict[str, Any] | None:
    """RSS at the end of warm-up, the maximum after it, and the growth as a fraction."""
    after = [rss for t, rss in timeline if t >= warmup_s]
    if len(after) < 2:
        return None
    return {
        "warmup_s": warmup_s,
        "at_warmup_mb": after[0],
        "max_after_mb": max(after),
        "end_mb": after[-1],
        "growth": round(max(after) / after[0] - 1.0, 4),
    }


def _wait_ready(url: str, proc: subprocess.Popen[bytes], deadline_s: float = 60) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"server at {url} not ready in {deadline_s}s")


def _server_command(target: Target, port: int, args: argparse.Namespace) -> list[str]:
    if target.index is None:
        return [sys.executable, str(ROOT / "bench" / "echo_server.py"), "--port", str(port)]
    cmd = [
        sys.executable,
        "-m",
        "autocomplete.cli",
        "serve",
        "--index",
        str(target.index),
        "--port",
        str(port),
        "--workers",
        str(args.workers),
        "--log-level",
        "warning",
        "--max-connections",
        str(args.connections + 100),
    ]
    if args.redis:
        cmd += ["--redis", args.redis]
    return cmd


def start_server(
    target: Target, args: argparse.Namespace, log: Any
) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("QAC_")}
    # Every simulated user comes from 127.0.0.1: lift the per-address shares, which exist
    # to stop one real client from taking every slot (the per-connection limits stay).
    env["QAC_MAX_CONNECTIONS_PER_CLIENT"] = str(args.connections + 100)
    env["QAC_CLIENT_RATE_PER_S"] = "1000000"
    env["QAC_CLIENT_RATE_BURST"] = "1000000"
    env["QAC_CLIENT_HANDSHAKE_RATE_PER_S"] = "1000000"
    env["QAC_CLIENT_HANDSHAKE_BURST"] = "1000000"
    if target.src != ROOT:
        # Ahead of the venv's editable install of this tree, whose finder comes after sys.path.
        env["PYTHONPATH"] = str(target.src)
    proc = subprocess.Popen(
        _server_command(target, port, args),
        cwd=target.src,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        preexec_fn=_raise_fd_limit,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    _wait_ready(url, proc)
    return proc, url


def _stop_server(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def _scrape(url: str) -> list[Any]:
    """The server's /metrics samples ([] for an older tree without it)."""
    from prometheus_client.parser import text_string_to_metric_families

    try:
        with urllib.request.urlopen(url + "/metrics", timeout=10) as resp:
            text = resp.read().decode()
    except OSError:
        return []
    return [s for family in text_string_to_metric_families(text) for s in family.samples]


def _latency_buckets(samples: list[Any]) -> dict[float, float]:
    """Cumulative counts of the server's own completion-latency histogram ({} if none)."""
    return {
        float(s.labels["le"]): s.value
        for s in samples
        if s.name == "qac_completion_latency_seconds_bucket"
    }


def _gc_totals(samples: list[Any]) -> dict[str, float]:
    """The server's collections and the seconds they stopped it, by generation ({} for a
    tree that does not time them)."""
    out: dict[str, float] = {}
    for s in samples:
        if s.name in ("python_gc_collections_total", "python_gc_pause_seconds_total"):
            key = f"{'collections' if 'collections' in s.name else 'pause_s'}_"
            key += s.labels["generation"]
            out[key] = out.get(key, 0.0) + s.value
    return out if any(k.startswith("pause_s") for k in out) else {}


def _gc_window(before: dict[str, float], after: dict[str, float]) -> dict[str, Any] | None:
    """Collections and mean pause (ms) by generation between two scrapes."""
    if not before or not after:
        return None
    out: dict[str, Any] = {}
    for g in ("0", "1", "2"):
        n = after.get(f"collections_{g}", 0.0) - before.get(f"collections_{g}", 0.0)
        paused = after.get(f"pause_s_{g}", 0.0) - before.get(f"pause_s_{g}", 0.0)
        out[g] = {
            "collections": int(n),
            "mean_pause_ms": round(1000 * paused / n, 2) if n else None,
        }
    return out


def _histogram_quantiles(
    before: dict[float, float], after: dict[float, float]
) -> dict[str, float | None]:
    """p50/p99 in ms, interpolated inside buckets (as Prometheus' histogram_quantile)."""
    bounds = sorted(after)
    counts = [after[b] - before.get(b, 0.0) for b in bounds]
    out: dict[str, float | None] = {}
    for name, q in (("p50", 0.5), ("p99", 0.99)):
        total = counts[-1] if counts else 0.0
        if total <= 0:
            out[name] = None
            continue
        rank, lower, seen = q * total, 0.0, 0.0
        value = None
        for bound, cum in zip(bounds, counts, strict=True):
            if cum >= rank:
                if bound == float("inf"):
                    value = lower
                else:
                    value = lower + (bound - lower) * (rank - seen) / max(cum - seen, 1e-12)
                break
            lower, seen = bound, cum
        out[name] = None if value is None else round(value * 1000, 3)
    return out


def _percentiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p99": None, "p999": None, "max": None}
    import numpy as np

    a = np.asarray(values)
    return {
        "p50": float(np.percentile(a, 50)),
        "p99": float(np.percentile(a, 99)),
        "p999": float(np.percentile(a, 99.9)),
        "max": float(a.max()),
    }


def _start_clients(
    name: str, url: str, rate: float, scripts: Path, args: argparse.Namespace, workdir: Path
) -> list[tuple[subprocess.Popen[bytes], Path]]:
    """One load process per share of the connections, each with its slice of connection numbers."""
    procs = min(args.client_procs, args.connections)
    per_client = [
        args.connections // procs + (1 if i < args.connections % procs else 0) for i in range(procs)
    ]
    clients = []
    for i, n in enumerate(per_client):
        spec = ClientSpec(
            url=url.replace("http", "ws") + "/ws",
            scripts=str(scripts),
            connections=n,
            first=sum(per_client[:i]),
            stride=args.connections,
            warmup_s=args.warmup,
            duration_s=args.duration,
            rate=rate * n / args.connections,
            seed=args.seed + i,
        )
        spec_path = workdir / f"{name}-{rate:g}-spec-{i}.json"
        spec_path.write_text(json.dumps(asdict(spec)))
        out = workdir / f"{name}-{rate:g}-out-{i}.json"
        proc = subprocess.Popen(
            [sys.executable, __file__, "client", str(spec_path), str(out)],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        clients.append((proc, out))
    return clients


def _go(clients: list[subprocess.Popen[bytes]]) -> float:
    """Wait until every client has opened its connections, then start them all at once."""
    for c in clients:
        assert c.stdout is not None and c.stdin is not None
        if c.stdout.readline().strip() != b"ready":
            raise SystemExit(f"load client exited with {c.wait()} before opening connections")
    go = time.monotonic()
    for c in clients:
        assert c.stdin is not None
        c.stdin.close()
    return go


def _merge(parts: list[ClientResult]) -> ClientResult:
    merged = ClientResult()
    for p in parts:
        for name in (
            "connections_opened",
            "connect_failures",
            "completes",
            "submits",
            "errors",
            "failures",
            "late",
            "client_cpu_s",
            "warmup_keystrokes",
            "warmup_errors",
            "warmup_failures",
        ):
            setattr(merged, name, getattr(merged, name) + getattr(p, name))
        merged.connect_s = max(merged.connect_s, p.connect_s)
        merged.gc_full_passes += p.gc_full_passes
        merged.gc_max_pause_ms = max(merged.gc_max_pause_ms, p.gc_max_pause_ms)
        merged.measured_s = max(merged.measured_s, p.measured_s)
        merged.rtt_complete_ms += p.rtt_complete_ms
        merged.rtt_submit_ms += p.rtt_submit_ms
    return merged


def run_target(
    target: Target, rate: float, scripts: Path, args: argparse.Namespace, workdir: Path
) -> dict[str, Any]:
    """One run: a fresh server for `target`, loaded at `rate` for warm-up + duration."""
    with open(workdir / f"{target.name}-{rate:g}.log", "wb") as log:
        proc, url = start_server(target, args, log)
    has_histogram = target.index is not None
    procs: list[subprocess.Popen[bytes]] = []
    try:
        rss_before = _rss_mb(proc.pid)
        clients = _start_clients(target.name, url, rate, scripts, args, workdir)
        procs = [c for c, _ in clients]
        go, load0 = _go(procs), os.getloadavg()[0]
        timeline = [(0.0, round(_rss_mb(proc.pid), 1))]
        _sample_rss(proc.pid, procs, go, timeline, until=go + args.warmup)
        scrape0 = _scrape(url) if has_histogram else []
        buckets0, gc0 = _latency_buckets(scrape0), _gc_totals(scrape0)
        cpu0, t0 = _cpu_s(proc.pid), time.monotonic()
        if args.warmup > 0:
            timeline.append((args.warmup, round(_rss_mb(proc.pid), 1)))
        # The clients stop sending at go + warmup + duration; the replies still in flight
        # then weigh as much as the warm-up's in flight at the start of the window.
        _sample_rss(proc.pid, procs, go, timeline, until=go + args.warmup + args.duration)
        server_cpu_s, wall_s = _cpu_s(proc.pid) - cpu0, time.monotonic() - t0
        _sample_rss(proc.pid, procs, go, timeline)
        for c in procs:
            c.wait()
        rss_after = _rss_mb(proc.pid)
        timeline.append((round(time.monotonic() - go, 1), round(rss_after, 1)))
        load1 = os.getloadavg()[0]
        scrape1 = _scrape(url) if has_histogram else []
        server_ms = (
            _histogram_quantiles(buckets0, _latency_buckets(scrape1))
            if has_histogram and args.workers == 1
            else None
        )
        server_gc = _gc_window(gc0, _gc_totals(scrape1))
        if any(c.returncode for c in procs):
            raise SystemExit(f"{target.name} at {rate:g}/s: a load client failed")
        merged = _merge([ClientResult(**json.loads(out.read_text())) for _, out in clients])
    finally:
        for c in procs:
            if c.poll() is None:
                c.kill()
                c.wait()
            if c.stdout is not None:
                c.stdout.close()
        _stop_server(proc)

    measured = merged.measured_s or args.duration
    keys_per_s = (merged.completes + merged.submits) / measured
    server_cpu_cores = server_cpu_s / wall_s
    return {
        "target": target.name,
        "index": None if target.index is None else str(target.index),
        "src": str(target.src),
        "rate_offered": rate,
        "connections_opened": merged.connections_opened,
        "connect_failures": merged.connect_failures,
        "connect_all_s": round(merged.connect_s, 3),
        "warmup_s": args.warmup,
        "measured_s": round(measured, 2),
        "completions": merged.completes,
        "submits": merged.submits,
        "completions_per_s": round(merged.completes / measured, 1),
        "keystrokes_per_s": round(keys_per_s, 1),
        "saturated": keys_per_s < SATURATED_BELOW * rate,
        "rtt_complete_ms": _percentiles(merged.rtt_complete_ms),
        "rtt_submit_ms": _percentiles(merged.rtt_submit_ms),
        # Read to reply inside the server (store read + ranking), from its own histogram.
        "server_complete_ms": server_ms,
        # The server's garbage collections in the window (all workers), by generation.
        "server_gc": server_gc,
        # The load generator's own full collections (from the go), which stall its replies.
        "client_gc": {"full_passes": merged.gc_full_passes, "max_pause_ms": merged.gc_max_pause_ms},
        "errors": merged.errors,
        "failures": merged.failures,
        "late": merged.late,
        # Sent and awaited during the warm-up, counted in none of the figures above.
        "warmup": {
            "keystrokes": merged.warmup_keystrokes,
            "errors": merged.warmup_errors,
            "failures": merged.warmup_failures,
        },
        "server_cpu_cores": round(server_cpu_cores, 2),
        "server_cpu_ms_per_keystroke": round(server_cpu_cores / max(keys_per_s, 1e-9) * 1000, 3),
        "client_cpu_cores": round(merged.client_cpu_s / wall_s, 2),
        "server_rss_mb": {"before": round(rss_before, 1), "after": round(rss_after, 1)},
        # RSS every few seconds under load, seconds from the go; growth is judged after the
        # warm-up window, once every connection, buffer and bounded cache has reached its
        # working size.
        "server_rss_timeline": timeline,
        "rss_growth_after_warmup": _rss_growth(timeline, args.warmup),
        # The 1-minute load average around the run: other work on the machine shows up here.
        "loadavg_1m": {"before": round(load0, 2), "after": round(load1, 2)},
    }


# -- comparisons and the report --------------------------------------------------------------


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or not b else round(a / b, 2)


def _ratios(r: dict[str, Any], base: dict[str, Any]) -> dict[str, float | None]:
    """p50, p99 and server CPU per keystroke of run `r` over those of `base`."""
    return {
        "p50": _ratio(r["rtt_complete_ms"]["p50"], base["rtt_complete_ms"]["p50"]),
        "p99": _ratio(r["rtt_complete_ms"]["p99"], base["rtt_complete_ms"]["p99"]),
        "server_cpu_per_keystroke": _ratio(
            r["server_cpu_ms_per_keystroke"], base["server_cpu_ms_per_keystroke"]
        ),
    }


def add_comparisons(results: list[dict[str, Any]], baseline: str | None) -> None:
    """Give each index run `vs_echo` and `vs_baseline`: ratios to the run at the same rate."""
    by = {(r["target"], r["rate_offered"]): r for r in results}
    for r in results:
        if r["target"] == ECHO:
            continue
        echo = by.get((ECHO, r["rate_offered"]))
        base = by.get((baseline, r["rate_offered"]))
        r["vs_echo"] = _ratios(r, echo) if echo else None
        r["vs_baseline"] = (
            {"baseline": baseline, **_ratios(r, base)} if base and base is not r else None
        )


def _fmt(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f}"


TABLE_HEAD = (
    "target",
    "offered/s",
    "conns",
    "keys/s",
    "compl/s",
    "p50 ms",
    "p99 ms",
    "p99.9 ms",
    "errors",
    "fail",
    "late",
    "srv cpu",
    "cpu ms/key",
    "vs echo",
    "cli cpu",
    "RSS MB before->after",
    "loadavg",
)


def _row(r: dict[str, Any]) -> list[str]:
    q = r["rtt_complete_ms"]
    vs_echo = r.get("vs_echo")
    return [
        r["target"],
        f"{r['rate_offered']:g}",
        str(r["connections_opened"]),
        f"{r['keystrokes_per_s']:.0f}" + (" sat" if r["saturated"] else ""),
        f"{r['completions_per_s']:.0f}",
        _fmt(q["p50"]),
        _fmt(q["p99"]),
        _fmt(q["p999"]),
        str(r["errors"]),
        str(r["failures"] + r["connect_failures"]),
        str(r["late"]),
        f"{r['server_cpu_cores']:.2f}",
        f"{r['server_cpu_ms_per_keystroke']:.3f}",
        "1x" if r["target"] == ECHO else _x(vs_echo and vs_echo["server_cpu_per_keystroke"]),
        f"{r['client_cpu_cores']:.2f}",
        f"{r['server_rss_mb']['before']:.0f}->{r['server_rss_mb']['after']:.0f}",
        f"{r['loadavg_1m']['before']:.1f}->{r['loadavg_1m']['after']:.1f}",
    ]


def _x(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f}x"


def print_table(report: dict[str, Any]) -> None:
    print(f"\n{report['command']}")
    rates = ", ".join(f"{r:g}" for r in report["rates"])
    print(
        f"{report['cpus']} CPUs; {report['connections']} connections; each run "
        f"{report['warmup_s']:g} s warm-up (not counted) + {report['duration_s']:g} s measured; "
        f"offered {rates} keystrokes/s"
    )
    for t in report["targets"]:
        print(f"  {t}")
    print()
    print(" | ".join(TABLE_HEAD))
    print(" | ".join("-" * len(h) for h in TABLE_HEAD))
    for r in report["results"]:
        print(" | ".join(_row(r)))
    print(
        "(keys/s: achieved keystrokes/s, 'sat' below "
        f"{SATURATED_BELOW:.0%} of offered; cpu ms/key: server CPU per keystroke; "
        "vs echo: that over echo's at the same offered rate)"
    )
    print()
    for r in report["results"]:
        label = f"{r['target']} @{r['rate_offered']:g}/s"
        if r.get("server_complete_ms"):
            s = r["server_complete_ms"]
            print(
                f"{label}: time inside the server per complete (its histogram): "
                f"p50 {_fmt(s['p50'])} ms, p99 {_fmt(s['p99'])} ms"
            )
        cg = r.get("client_gc")
        if cg:
            print(
                f"{label}: the load generator's full collections: {cg['full_passes']}, "
                f"longest {cg['max_pause_ms']:.1f} ms"
            )
        gcs = r.get("server_gc")
        if gcs:
            print(
                f"{label}: garbage collections (generation: count, mean pause) "
                + ", ".join(
                    f"{g}: {v['collections']}, {_fmt(v['mean_pause_ms'])} ms"
                    for g, v in gcs.items()
                )
            )
        g = r.get("rss_growth_after_warmup")
        if g:
            print(
                f"{label}: RSS after {g['warmup_s']:g} s warm-up {g['at_warmup_mb']:.1f} MB, "
                f"max after {g['max_after_mb']:.1f} MB, end {g['end_mb']:.1f} MB: "
                f"growth {100 * g['growth']:+.1f}%"
            )
    print_summary(report)


def print_summary(report: dict[str, Any]) -> None:
    """Per offered rate: what each target achieved, and each index against the baseline."""
    print("\nSummary (ratios are to the run at the same offered rate):")
    for rate in report["rates"]:
        runs = [r for r in report["results"] if r["rate_offered"] == rate]
        achieved = ", ".join(
            f"{r['target']} {r['keystrokes_per_s']:.0f}"
            + (" (saturated)" if r["saturated"] else "")
            for r in runs
        )
        print(f"  {rate:g}/s offered: keystrokes/s achieved: {achieved}")
        if any(r["saturated"] for r in runs):
            print("    saturated runs: achieved keystrokes/s is the throughput at saturation")
        for r in runs:
            v = r.get("vs_baseline")
            if v:
                print(
                    f"    {r['target']} / {v['baseline']}: p50 {_x(v['p50'])}, "
                    f"p99 {_x(v['p99'])}, CPU per keystroke {_x(v['server_cpu_per_keystroke'])}"
                )
            e = r.get("vs_echo")
            if e:
                print(
                    f"    {r['target']} / echo: p50 {_x(e['p50'])}, p99 {_x(e['p99'])}, "
                    f"CPU per keystroke {_x(e['server_cpu_per_keystroke'])}"
                )


# -- command line ----------------------------------------------------------------------------


def parse_args(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--connections", type=int, default=200)
    ap.add_argument(
        "--duration", type=float, default=30.0, help="seconds measured in each run, after warm-up"
    )
    ap.add_argument(
        "--warmup",
        type=float,
        default=10.0,
        help="seconds of load before measuring starts in each run (connections, caches warm "
        "up); not counted in any figure; RSS growth is judged from its end",
    )
    ap.add_argument(
        "--rate",
        type=float,
        nargs="+",
        default=[2000.0],
        help="offered keystrokes/s over all connections; several: one run per rate and target",
    )
    ap.add_argument(
        "--log",
        type=Path,
        default=SAMPLE_LOG,
        help="AOL log whose test part is replayed (default: the bundled sample)",
    )
    ap.add_argument(
        "--index",
        type=parse_index,
        action="append",
        metavar="[NAME=]DIR[@SRC]",
        help="index to serve, named NAME (default qac), by the code of source tree SRC "
        "(default: this tree); repeat for several (default: MPC of --log, built, as qac)",
    )
    ap.add_argument(
        "--targets",
        help="comma-separated: echo and --index names (default: echo, then every index)",
    )
    ap.add_argument(
        "--baseline",
        help="index the others are compared with, rate by rate (default: the first index)",
    )
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--redis", help="serve with this Redis URL (default: in-memory store)")
    ap.add_argument("--client-procs", type=int, default=1, help="load generator processes")
    ap.add_argument(
        "--sessions", type=int, default=100_000, help="test sessions to replay, at most"
    )
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, help="JSON report (default: bench/results/load-*.json)")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "client":
        client_main(argv[1:])
        return 0
    args = parse_args(argv)
    _raise_fd_limit()

    scripts = session_scripts(args.log, args.sessions)
    with tempfile.TemporaryDirectory(prefix="qac-load-") as tmp:
        workdir = Path(tmp)
        targets = resolve_targets(args, workdir)
        indexes = [t.name for t in targets if t.index is not None]
        baseline = args.baseline or (indexes[0] if indexes else None)
        if baseline is not None and baseline not in indexes:
            raise SystemExit(f"--baseline {baseline}: not among the targets {indexes}")
        scripts_path = workdir / "scripts.json"
        scripts_path.write_text(json.dumps(scripts))
        results = [
            run_target(t, rate, scripts_path, args, workdir) for rate in args.rate for t in targets
        ]
    add_comparisons(results, baseline)

    report: dict[str, Any] = {
        "command": "python bench/load.py " + " ".join(argv),
        "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "cpus": os.cpu_count(),
        "connections": args.connections,
        "warmup_s": args.warmup,
        "duration_s": args.duration,
        "rates": args.rate,
        "workers": args.workers,
        "store": "redis" if args.redis else "memory",
        "log": str(args.log),
        "sessions": len(scripts),
        "targets": [t.describe() for t in targets],
        "baseline": baseline,
        "results": results,
    }
    out = args.out or RESULTS / f"load-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1))
    print_table(report)
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
