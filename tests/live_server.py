"""A real `autocomplete serve` process for integration and browser tests.

    with LiveServer(index_dir) as server:          # started; /healthz answered 200
        httpx.get(server.url + "/healthz")
        websockets.connect(server.ws_url)
        server.stop()                              # SIGTERM, waits for a graceful exit
        server.start()                             # same port again
        server.kill()                              # SIGKILL (a crash)

    LiveServer(index_dir, redis_url=redis.url, workers=2, env={"QAC_RATE_PER_S": "5"})

The server runs as `python -m autocomplete.cli serve` in a subprocess of this interpreter, on
a free 127.0.0.1 port, with every inherited `QAC_*` variable removed (only `env` applies).
Readiness is polled on `/healthz` with a deadline, never a fixed sleep. Its stdout and stderr
go to a file (a pipe nobody reads could fill up and block the server): `output()` reads it.

`built_sample_index` is a session-scoped pytest fixture (an MPC index of the bundled sample
log); import it into a conftest to use it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import pytest

from tests.credentials import TEST_HEALTH_TOKEN, TEST_JWT_SECRET, TEST_SESSION_SECRET
from tests.redis_server import free_port

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_LOG = ROOT / "data" / "sample" / "aol-sample.tsv.gz"
_POLL_INTERVAL_S = 0.02

__all__ = ["LiveServer", "built_sample_index", "free_port"]


class LiveServer:
    """One `autocomplete serve` subprocess; `start`/`stop` may repeat on the same port.

    index_dir: the index to serve. redis_url: None for the in-memory store.
    env: extra environment (e.g. `QAC_*` settings). port: None picks a free one, kept for
    the object's life. workers: uvicorn worker processes. startup_timeout_s: how long to
    wait for `/healthz`.
    """

    def __init__(
        self,
        index_dir: str | os.PathLike[str],
        *,
        redis_url: str | None = None,
        env: Mapping[str, str] | None = None,
        host: str = "127.0.0.1",
        port: int | None = None,
        workers: int = 1,
        startup_timeout_s: float = 30.0,
    ) -> None:
        self.index_dir = Path(index_dir)
        self.redis_url = redis_url
        # Tokens minted by `tests.credentials` identify users, as a site's would.
        # A test machine under load can take longer than the production read budget (20 ms)
        # for a local Redis round trip; tests of what context does must not flake on it, so
        # they get a generous one (tests of the budget itself set their own).
        self.env = {
            "QAC_JWT_SECRET": TEST_JWT_SECRET,
            "QAC_HEALTH_TOKEN": TEST_HEALTH_TOKEN,
            "QAC_STORE_READ_TIMEOUT_S": "1.0",
            # As in production: a fixed secret, so sessions survive a restart of the server.
            "QAC_SESSION_SECRET": TEST_SESSION_SECRET,
            # Every test client comes from 127.0.0.1 and many tests open sockets in quick
            # succession: lift the per-address new-connection rate (its own tests set theirs).
            "QAC_CLIENT_HANDSHAKE_RATE_PER_S": "10000",
            "QAC_CLIENT_HANDSHAKE_BURST": "10000",
            **(env or {}),
        }
        self.host = host
        self._port_given = port is not None
        self.port = port if port is not None else free_port(host)
        self.workers = workers
        self.startup_timeout_s = startup_timeout_s
        self.process: subprocess.Popen[bytes] | None = None
        self._log_dir = Path(tempfile.mkdtemp(prefix="qac-live-"))
        self.log_path = self._log_dir / "server.log"

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self.port}/ws"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.running and self.process is not None else None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def command(self) -> list[str]:
        cmd = [
            sys.executable,
            "-m",
            "autocomplete.cli",
            "serve",
            "--index",
            str(self.index_dir),
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--workers",
            str(self.workers),
        ]
        if self.redis_url is not None:
            cmd += ["--redis", self.redis_url]
        return cmd

    def start(self) -> LiveServer:
        """Start the server and return once `/healthz` answers; no-op when running."""
        if self.running:
            return self
        try:
            self._spawn()
        except _PortTaken:
            if self._port_given:
                raise RuntimeError(f"port {self.port} is already in use") from None
            self.port = free_port(self.host)  # lost a race for the free port; once more
            self._spawn()
        return self

    def stop(self, timeout_s: float = 15.0) -> int | None:
        """SIGTERM (a graceful shutdown), wait for exit; returns the exit status."""
        process, self.process = self.process, None
        if process is None:
            return None
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                _kill_group(process)
                raise RuntimeError(
                    f"server did not exit within {timeout_s}s of SIGTERM:\n{self.output()}"
                ) from None
        _kill_group(process)  # a worker the supervisor failed to stop must not hold the port
        return process.returncode

    def kill(self) -> None:
        """SIGKILL the server and its worker processes (a crash)."""
        process, self.process = self.process, None
        if process is not None:
            _kill_group(process)

    def close(self) -> None:
        """Stop the server if running and remove its log."""
        try:
            if self.running:
                self.stop()
        finally:
            self.kill()
            for path in self._log_dir.glob("*"):
                path.unlink()
            self._log_dir.rmdir()

    def output(self) -> str:
        """Everything the server printed so far (stdout and stderr)."""
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def get(
        self, path: str, timeout_s: float = 5.0, headers: Mapping[str, str] | None = None
    ) -> tuple[int, str]:
        """(status, body) of a GET on the server; HTTP errors are returned, not raised."""
        request = urllib.request.Request(self.url + path, headers=dict(headers or {}))
        try:
            with urllib.request.urlopen(request, timeout=timeout_s) as resp:
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as err:
            return err.code, err.read().decode()

    def healthz(self, details: bool = True) -> dict[str, Any]:
        """`/healthz`, with the internals only the health token sees when `details`."""
        auth = {"Authorization": f"Bearer {TEST_HEALTH_TOKEN}"} if details else {}
        status, body = self.get("/healthz", headers=auth)
        result: dict[str, Any] = json.loads(body)
        result["http_status"] = status
        return result

    def metrics(self) -> str:
        return self.get("/metrics")[1]

    def __enter__(self) -> LiveServer:
        try:
            return self.start()
        except BaseException:
            self.close()
            raise

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"LiveServer({self.url}, {'running' if self.running else 'stopped'})"

    def _spawn(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("QAC_")}
        env.update(self.env)
        env["PYTHONUNBUFFERED"] = "1"
        with open(self.log_path, "ab") as log:
            log.write(f"$ {' '.join(self.command())}\n".encode())
            log.flush()
            start_of_run = log.tell()
            # A process group of its own, so `kill` reaches the worker processes too.
            process = subprocess.Popen(
                self.command(),
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.process = process
        deadline = time.monotonic() + self.startup_timeout_s
        while not self._ready():
            if process.poll() is not None:
                self.process = None
                text = self.output()
                if "address already in use" in text[start_of_run:].lower():
                    raise _PortTaken
                raise RuntimeError(f"server exited with {process.returncode}:\n{text}")
            if time.monotonic() > deadline:
                self.kill()
                raise TimeoutError(
                    f"server on port {self.port} not ready after {self.startup_timeout_s}s:\n"
                    f"{self.output()}"
                )
            time.sleep(_POLL_INTERVAL_S)

    def _ready(self) -> bool:
        try:
            with urllib.request.urlopen(self.url + "/healthz", timeout=0.5) as resp:
                return bool(resp.status == 200)
        except (OSError, urllib.error.URLError):
            return False


class _PortTaken(Exception):
    pass


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL every process left in the server's process group, then reap the server."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    process.wait()


@pytest.fixture(scope="session")
def built_sample_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An MPC index of the bundled AOL sample (training part), built once per test run,
    every training query shared (K = 1): the tests type the sample's own queries."""
    from indexer.build import build_index
    from indexer.kanon import KAnonParams
    from indexer.params import BuildParams

    out = tmp_path_factory.mktemp("live-index") / "mpc"
    build_index([SAMPLE_LOG], out, BuildParams(model="mpc", kanon=KAnonParams.off()))
    return out
