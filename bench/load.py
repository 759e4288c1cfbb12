"""WebSocket load test: real sessions replayed keystroke by keystroke by N concurrent clients.

For each target server (our `autocomplete serve`, and a bare uvicorn+Starlette echo server
as the floor), in the same run:

1. start the server as a subprocess on a free port and wait for /healthz;
2. start the client as a *separate process* (the server must not share its event loop or
   its GIL with the load generator), which opens N connections, then for `--duration`
   seconds sends, at `--rate` keystrokes per second in total, the next keystroke of the
   session each connection replays: `complete` for every proper prefix of each query of a
   real session from the log's test part, then `submit` of the query. A connection waits for
   the reply to one keystroke before sending the next (so no keystroke is superseded) and
   otherwise keeps to its schedule (if replies are slow it falls behind and says so: `late`);
3. report completions per second, round-trip p50/p99/p99.9 (send to matching reply), error
   frames and failures, server CPU use, and server RSS before and after.

The machine running this is also running the server: on a 2-core box the load generator
competes with the server for CPU, so the numbers are a floor, and the echo ratio (same
client, same machine, same run) is the figure to compare across machines.

    python bench/load.py --connections 200 --duration 30 --rate 2000
    python bench/load.py --connections 1000 --duration 10 --rate 2000 --targets qac

Writes bench/results/load-<time>.json. Not run in CI.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_LOG = ROOT / "data" / "sample" / "aol-sample.tsv.gz"
RESULTS = ROOT / "bench" / "results"
REPLY_TIMEOUT_S = 10.0


# -- keystroke scripts -----------------------------------------------------------------------


def session_scripts(log: Path, limit: int) -> list[list[list[str]]]:
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
    client_cpu_s: float = 0.0


async def _replay(
    url: str,
    scripts: list[list[list[str]]],
    connections: int,
    duration_s: float,
    rate: float,
    seed: int,
) -> ClientResult:
    from websockets.asyncio.client import connect

    result = ClientResult()
    interval = connections / rate
    loop = asyncio.get_running_loop()
    opened = asyncio.Event()
    open_slots = asyncio.Semaphore(64)  # do not SYN-flood our own listen backlog
    start_at: list[float] = []
    pending_opens = [connections]
    rng = random.Random(seed)

    async def one(n: int) -> None:
        script = scripts[n % len(scripts)]
        pos = rng.randrange(len(script))
        try:
            async with open_slots:
                ws = await connect(url, max_size=None, ping_interval=None, open_timeout=60)
            await asyncio.wait_for(ws.recv(), REPLY_TIMEOUT_S)  # hello
        except Exception:
            result.connect_failures += 1
            ws = None
        pending_opens[0] -= 1
        if pending_opens[0] == 0:
            start_at.append(loop.time())
            opened.set()
        await opened.wait()
        if ws is None:
            return
        result.connections_opened += 1
        start = start_at[0]
        end = start + duration_s
        next_t = start + rng.random() * interval
        request_id = 0
        try:
            while True:
                now = loop.time()
                if now >= end:
                    break
                if next_t > now:
                    await asyncio.sleep(next_t - now)
                    if loop.time() >= end:
                        break
                elif now - next_t > interval:
                    result.late += 1
                    next_t = now  # do not build up a backlog to fire in a burst
                kind, text = script[pos % len(script)]
                pos += 1
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
                if reply.get("type") == "error":
                    result.errors += 1
                elif kind == "complete":
                    result.completes += 1
                    result.rtt_complete_ms.append(rtt_ms)
                else:
                    result.submits += 1
                    result.rtt_submit_ms.append(rtt_ms)
                next_t += interval
        except Exception:
            result.failures += 1
        finally:
            await ws.close()

    cpu0 = time.process_time()
    t0 = loop.time()
    tasks = [asyncio.create_task(one(n)) for n in range(connections)]
    await opened.wait()
    result.connect_s = start_at[0] - t0
    await asyncio.gather(*tasks)
    result.measured_s = min(loop.time() - start_at[0], duration_s)
    result.client_cpu_s = time.process_time() - cpu0
    return result


def client_main(argv: list[str]) -> None:
    """`load.py client SPEC.json OUT.json`: replay, write a ClientResult as JSON."""
    spec = json.loads(Path(argv[0]).read_text())
    _raise_fd_limit()
    result = asyncio.run(
        _replay(
            spec["url"],
            spec["scripts"],
            spec["connections"],
            spec["duration_s"],
            spec["rate"],
            spec["seed"],
        )
    )
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


def _sample_rss_until_done(
    pid: int, clients: list[subprocess.Popen[bytes]], t0: float
) -> list[tuple[float, float]]:
    """Wait for the load clients, sampling the server's RSS every RSS_SAMPLE_S seconds."""
    timeline = [(0.0, round(_rss_mb(pid), 1))]
    while any(c.poll() is None for c in clients):
        time.sleep(min(RSS_SAMPLE_S, 0.5))
        now = time.monotonic() - t0
        if now - timeline[-1][0] >= RSS_SAMPLE_S:
            timeline.append((round(now, 1), round(_rss_mb(pid), 1)))
    return timeline


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


def start_server(
    target: str, index: Path, args: argparse.Namespace, log: Any
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
    if target == "echo":
        cmd = [sys.executable, str(ROOT / "bench" / "echo_server.py"), "--port", str(port)]
    else:
        cmd = [
            sys.executable,
            "-m",
            "autocomplete.cli",
            "serve",
            "--index",
            str(index),
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
    proc = subprocess.Popen(
        cmd,
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        preexec_fn=_raise_fd_limit,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    _wait_ready(url, proc)
    return proc, url


def _latency_buckets(url: str) -> dict[float, float]:
    """Cumulative counts of the server's own completion-latency histogram (qac only)."""
    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(url + "/metrics", timeout=10) as resp:
        text = resp.read().decode()
    return {
        float(s.labels["le"]): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == "qac_completion_latency_seconds_bucket"
    }


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


def run_target(
    target: str,
    index: Path,
    scripts: list[list[list[str]]],
    args: argparse.Namespace,
    workdir: Path,
) -> dict[str, Any]:
    log_path = workdir / f"{target}.log"
    with open(log_path, "wb") as log:
        proc, url = start_server(target, index, args, log)
    try:
        rss_before = _rss_mb(proc.pid)
        per_client = [
            args.connections // args.client_procs
            + (1 if i < args.connections % args.client_procs else 0)
            for i in range(args.client_procs)
        ]
        clients = []
        for i, n in enumerate(per_client):
            spec = workdir / f"{target}-spec-{i}.json"
            spec.write_text(
                json.dumps(
                    {
                        "url": url.replace("http", "ws") + "/ws",
                        "scripts": scripts,
                        "connections": n,
                        "duration_s": args.duration,
                        "rate": args.rate * n / args.connections,
                        "seed": args.seed + i,
                    }
                )
            )
            out = workdir / f"{target}-out-{i}.json"
            clients.append(
                (
                    subprocess.Popen(
                        [sys.executable, __file__, "client", str(spec), str(out)], cwd=ROOT
                    ),
                    out,
                )
            )
        buckets0 = _latency_buckets(url) if target == "qac" else {}
        cpu0, t0, load0 = _cpu_s(proc.pid), time.monotonic(), os.getloadavg()[0]
        rss_timeline = _sample_rss_until_done(proc.pid, [c for c, _ in clients], t0)
        server_cpu_s, wall_s = _cpu_s(proc.pid) - cpu0, time.monotonic() - t0
        rss_after = _rss_mb(proc.pid)
        load1 = os.getloadavg()[0]
        server_ms = (
            _histogram_quantiles(buckets0, _latency_buckets(url))
            if target == "qac" and args.workers == 1
            else None
        )
        parts = [ClientResult(**json.loads(out.read_text())) for _, out in clients]
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

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
        ):
            setattr(merged, name, getattr(merged, name) + getattr(p, name))
        merged.connect_s = max(merged.connect_s, p.connect_s)
        merged.measured_s = max(merged.measured_s, p.measured_s)
        merged.rtt_complete_ms += p.rtt_complete_ms
        merged.rtt_submit_ms += p.rtt_submit_ms
    measured = merged.measured_s or args.duration
    return {
        "target": target,
        "connections_opened": merged.connections_opened,
        "connect_failures": merged.connect_failures,
        "connect_all_s": round(merged.connect_s, 3),
        "measured_s": round(measured, 2),
        "completions": merged.completes,
        "submits": merged.submits,
        "completions_per_s": round(merged.completes / measured, 1),
        "keystrokes_per_s": round((merged.completes + merged.submits) / measured, 1),
        "rtt_complete_ms": _percentiles(merged.rtt_complete_ms),
        "rtt_submit_ms": _percentiles(merged.rtt_submit_ms),
        # Read to reply inside the server (store read + ranking), from its own histogram.
        "server_complete_ms": server_ms,
        "errors": merged.errors,
        "failures": merged.failures,
        "late": merged.late,
        "server_cpu_cores": round(server_cpu_s / wall_s, 2),
        "client_cpu_cores": round(merged.client_cpu_s / wall_s, 2),
        "server_rss_mb": {"before": round(rss_before, 1), "after": round(rss_after, 1)},
        # RSS every few seconds under load; growth is judged after the warm-up window, once
        # every connection, buffer and bounded cache has reached its working size.
        "server_rss_timeline": rss_timeline,
        "rss_growth_after_warmup": _rss_growth(rss_timeline, args.warmup),
        # The 1-minute load average around the run: other work on the machine shows up here.
        "loadavg_1m": {"before": round(load0, 2), "after": round(load1, 2)},
    }


def _fmt(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f}"


def print_table(report: dict[str, Any]) -> None:
    print(f"\n{report['command']}")
    print(
        f"{report['cpus']} CPUs; {report['connections']} connections, "
        f"{report['duration_s']} s, target {report['rate']} keystrokes/s\n"
    )
    head = (
        "target",
        "conns",
        "compl/s",
        "p50 ms",
        "p99 ms",
        "p99.9 ms",
        "errors",
        "fail",
        "late",
        "srv cpu",
        "cli cpu",
        "RSS MB before->after",
        "loadavg",
    )
    print(" | ".join(head))
    print(" | ".join("-" * len(h) for h in head))
    for r in report["results"]:
        q = r["rtt_complete_ms"]
        print(
            " | ".join(
                [
                    r["target"],
                    str(r["connections_opened"]),
                    f"{r['completions_per_s']:.0f}",
                    _fmt(q["p50"]),
                    _fmt(q["p99"]),
                    _fmt(q["p999"]),
                    str(r["errors"]),
                    str(r["failures"] + r["connect_failures"]),
                    str(r["late"]),
                    f"{r['server_cpu_cores']:.2f}",
                    f"{r['client_cpu_cores']:.2f}",
                    f"{r['server_rss_mb']['before']:.0f}->{r['server_rss_mb']['after']:.0f}",
                    f"{r['loadavg_1m']['before']:.1f}->{r['loadavg_1m']['after']:.1f}",
                ]
            )
        )
    for r in report["results"]:
        if r.get("server_complete_ms"):
            s = r["server_complete_ms"]
            print(
                f"{r['target']}: time inside the server per complete (its histogram): "
                f"p50 {_fmt(s['p50'])} ms, p99 {_fmt(s['p99'])} ms"
            )
    for r in report["results"]:
        g = r.get("rss_growth_after_warmup")
        if g:
            print(
                f"{r['target']}: RSS after {g['warmup_s']:.0f} s warm-up "
                f"{g['at_warmup_mb']:.1f} MB, "
                f"max after {g['max_after_mb']:.1f} MB, end {g['end_mb']:.1f} MB: "
                f"growth {100 * g['growth']:+.1f}%"
            )
    if "ratio_vs_echo" in report:
        ratio = report["ratio_vs_echo"]
        print(
            f"\nqac / echo: p50 x{_fmt(ratio['p50'])}, p99 x{_fmt(ratio['p99'])}, "
            f"server CPU per keystroke x{_fmt(ratio['server_cpu_per_keystroke'])}"
        )


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "client":
        client_main(argv[1:])
        return 0
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--connections", type=int, default=200)
    ap.add_argument("--duration", type=float, default=30.0, help="seconds of measured load")
    ap.add_argument("--rate", type=float, default=2000.0, help="keystrokes/s, all connections")
    ap.add_argument(
        "--log",
        type=Path,
        default=SAMPLE_LOG,
        help="AOL log whose test part is replayed (default: the bundled sample)",
    )
    ap.add_argument("--index", type=Path, help="index to serve (default: MPC of --log, built)")
    ap.add_argument("--targets", default="echo,qac", help="comma-separated: echo, qac")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--redis", help="serve with this Redis URL (default: in-memory store)")
    ap.add_argument("--client-procs", type=int, default=1, help="load generator processes")
    ap.add_argument("--sessions", type=int, default=2000, help="test sessions to replay")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--warmup",
        type=float,
        default=60.0,
        help="seconds of load before RSS growth is judged (connections, caches warm up)",
    )
    ap.add_argument("--out", type=Path, help="JSON report (default: bench/results/load-*.json)")
    args = ap.parse_args(argv)
    _raise_fd_limit()

    scripts = session_scripts(args.log, args.sessions)
    with tempfile.TemporaryDirectory(prefix="qac-load-") as tmp:
        workdir = Path(tmp)
        index = args.index
        if index is None and "qac" in args.targets:
            from indexer.build import build_index
            from indexer.params import BuildParams

            index = workdir / "index"
            build_index([args.log], index, BuildParams(model="mpc"))
        results = [
            run_target(t.strip(), index, scripts, args, workdir) for t in args.targets.split(",")
        ]

    report: dict[str, Any] = {
        "command": "python bench/load.py " + " ".join(argv),
        "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "cpus": os.cpu_count(),
        "connections": args.connections,
        "duration_s": args.duration,
        "rate": args.rate,
        "workers": args.workers,
        "store": "redis" if args.redis else "memory",
        "log": str(args.log),
        "sessions": len(scripts),
        "results": results,
    }
    by = {r["target"]: r for r in results}
    if "echo" in by and "qac" in by:
        e, q = by["echo"], by["qac"]

        def ratio(a: float | None, b: float | None) -> float | None:
            return None if a is None or not b else round(a / b, 2)

        def cpu_per_key(r: dict[str, Any]) -> float:
            return r["server_cpu_cores"] / max(r["keystrokes_per_s"], 1e-9)

        report["ratio_vs_echo"] = {
            "p50": ratio(q["rtt_complete_ms"]["p50"], e["rtt_complete_ms"]["p50"]),
            "p99": ratio(q["rtt_complete_ms"]["p99"], e["rtt_complete_ms"]["p99"]),
            "server_cpu_per_keystroke": ratio(cpu_per_key(q), cpu_per_key(e)),
        }
    out = args.out or RESULTS / f"load-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1))
    print_table(report)
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
