"""A real ``redis-server`` for tests, started on a free 127.0.0.1 port.

No fakes: the stores and the server are tested against the Redis they will run with. Starting
takes a few milliseconds, so tests may own a server and stop or restart it to test failures.

    with RedisServer() as server:          # started, answers PING
        client = Redis.from_url(server.url)
        server.stop()                      # now refuses connections
        server.start()                     # same port, same URL, empty again
        server.kill()                      # SIGKILL: a crash

    RedisServer(persistent=True)           # keeps data across stop()/start() (AOF, fsync always)

In a conftest, ``redis_server = redis_server_fixture(scope="session")`` gives a fixture of that
name yielding a started server, and skips the test when ``redis-server`` is not on PATH.
Readiness is polled with a deadline (PING over a plain socket), never a fixed sleep.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import Literal

import pytest

HOST = "127.0.0.1"
_POLL_INTERVAL_S = 0.005


def redis_server_path() -> str | None:
    """Path of the ``redis-server`` executable, or None when it is not installed."""
    return shutil.which("redis-server")


def require_redis_server() -> str:
    """Path of ``redis-server``; skips the calling test when it is missing."""
    path = redis_server_path()
    if path is None:
        pytest.skip("redis-server is not on PATH (apt-get install redis-server); CI installs it")
    return path


def free_port(host: str = HOST) -> int:
    """A TCP port on `host` that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def ping(port: int, timeout_s: float = 0.2) -> bool:
    """True when something on `port` answers a Redis PING with PONG (not LOADING)."""
    try:
        with socket.create_connection((HOST, port), timeout=timeout_s) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def _send(port: int, command: bytes, timeout_s: float = 0.2) -> None:
    """Send one command and wait briefly for the reply or the close; ignore any failure."""
    try:
        with socket.create_connection((HOST, port), timeout=timeout_s) as sock:
            sock.sendall(command)
            sock.recv(64)
    except OSError:
        pass


def server_pid(port: int, timeout_s: float = 0.2) -> int | None:
    """Process id of the Redis answering on `port` (from INFO server), or None."""
    try:
        with socket.create_connection((HOST, port), timeout=timeout_s) as sock:
            sock.sendall(b"INFO server\r\n")
            reply = b""
            while b"\r\n" not in reply or len(reply) < _bulk_end(reply):
                chunk = sock.recv(65536)
                if not chunk:
                    return None
                reply += chunk
    except OSError:
        return None
    for line in reply.decode(errors="replace").splitlines():
        if line.startswith("process_id:"):
            return int(line.partition(":")[2])
    return None


def _bulk_end(reply: bytes) -> int:
    """Length of a complete RESP bulk-string reply whose header is already in `reply`."""
    header, _, _ = reply.partition(b"\r\n")
    if not header.startswith(b"$"):
        return 0  # an error or other short reply: complete as soon as the line is
    return len(header) + 2 + int(header[1:]) + 2


class RedisServer:
    """One ``redis-server`` process on a fixed port; `start` and `stop` may repeat.

    `port`: None picks a free one (kept for the object's life, so `url` survives restarts).
    `persistent`: False runs with ``--save "" --appendonly no`` (a restart comes back empty);
    True keeps an append-only file in a private directory so data survives `stop`/`start`.
    `extra_args`: more ``redis-server`` arguments, e.g. ``["--maxmemory", "1mb"]``.
    """

    def __init__(
        self,
        port: int | None = None,
        *,
        persistent: bool = False,
        startup_timeout_s: float = 10.0,
        extra_args: Sequence[str] = (),
    ) -> None:
        self._port_given = port is not None
        self.port = port if port is not None else free_port()
        self.persistent = persistent
        self.startup_timeout_s = startup_timeout_s
        self.extra_args = list(extra_args)
        self._process: subprocess.Popen[bytes] | None = None
        self._dir: Path | None = None

    @property
    def host(self) -> str:
        return HOST

    @property
    def url(self) -> str:
        return f"redis://{HOST}:{self.port}/0"

    @property
    def pid(self) -> int | None:
        """Process id while running (e.g. to SIGSTOP it and simulate a hung server)."""
        return self._process.pid if self.running and self._process is not None else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> RedisServer:
        """Start the server and return once it answers PING; no-op when already running."""
        if self.running:
            return self
        executable = redis_server_path()
        if executable is None:
            raise FileNotFoundError("redis-server is not on PATH")
        first_start = self._dir is None
        try:
            try:
                self._spawn(executable)
            except _PortTaken:
                if self._port_given:
                    raise RuntimeError(f"port {self.port} is already in use") from None
                # Someone took our free port between picking and binding: pick again, once.
                self.port = free_port()
                self._spawn(executable)
        except BaseException:
            if first_start or not self.persistent:
                self._remove_dir()
            raise
        return self

    def stop(self) -> None:
        """Shut the server down and wait for it to exit; no-op when not running.

        Asks with SHUTDOWN (immediate; a persistent server flushes its AOF), falls back to
        SIGTERM, and to SIGKILL after 5 s.
        """
        process, self._process = self._process, None
        if process is not None:
            if process.poll() is None:
                _send(self.port, b"SHUTDOWN\r\n" if self.persistent else b"SHUTDOWN NOSAVE\r\n")
                try:
                    process.wait(timeout=1)
                except subprocess.TimeoutExpired:
                    process.terminate()
                try:
                    process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        if not self.persistent:
            self._remove_dir()

    def kill(self) -> None:
        """SIGKILL the server (a crash) and reap it; its data directory stays, so `start`
        brings back what it had written there (a cluster node its ``nodes.conf``)."""
        process, self._process = self._process, None
        if process is not None:
            process.kill()
            process.wait()

    def close(self) -> None:
        """Stop the server and delete its data directory."""
        self.stop()
        self._remove_dir()

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"RedisServer({self.url}, {state})"

    def _spawn(self, executable: str) -> None:
        if self._dir is None:
            self._dir = Path(tempfile.mkdtemp(prefix="redis-test-"))
        persistence = (
            ["--save", "", "--appendonly", "yes", "--appendfsync", "always"]
            if self.persistent
            else ["--save", "", "--appendonly", "no"]
        )
        args = [
            executable,
            "--bind", HOST,
            "--port", str(self.port),
            "--dir", str(self._dir),
            "--daemonize", "no",
            "--logfile", "",
            *persistence,
            *self.extra_args,
        ]  # fmt: skip
        if ping(self.port):
            raise _PortTaken
        log = self._dir / "redis.log"
        with open(log, "ab") as out:
            process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)
        self._process = process
        deadline = time.monotonic() + self.startup_timeout_s
        # Ready when *our* process answers (not another server that grabbed the port) and has
        # finished loading any persisted data.
        while not (server_pid(self.port) == process.pid and ping(self.port)):
            if process.poll() is not None:
                self._process = None
                text = log.read_text(errors="replace")
                if "Address already in use" in text:
                    log.unlink()
                    raise _PortTaken
                raise RuntimeError(f"redis-server exited with {process.returncode}:\n{text}")
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError(f"redis-server on port {self.port} did not answer PING")
            time.sleep(_POLL_INTERVAL_S)

    def _remove_dir(self) -> None:
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None


class _PortTaken(Exception):
    pass


def redis_server_fixture(
    *,
    scope: Literal["session", "package", "module", "class", "function"] = "function",
    persistent: bool = False,
) -> Callable[[], Iterator[RedisServer]]:
    """A pytest fixture yielding a started `RedisServer`, closed afterwards.

    The fixture takes the name of the variable it is assigned to in a conftest or test
    module. Tests using it are skipped when ``redis-server`` is not on PATH.
    """

    @pytest.fixture(scope=scope)
    def _redis_server() -> Iterator[RedisServer]:
        require_redis_server()
        with RedisServer(persistent=persistent) as server:
            yield server

    return _redis_server
