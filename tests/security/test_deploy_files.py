"""What ships: the image installs exactly the locked, hashed versions, and compose's Redis is
closed to strangers and bounded in memory.

Docker is not available where the tests run, so the files are read as data: compose through a
YAML parser with its `${...}` interpolation applied, and the Redis it describes started for real
with the same arguments.
"""

from __future__ import annotations

import re
import socket
import subprocess
import time
import tomllib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import redis
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from session_store import SessionStoreUnavailable
from session_store.client import parse_cluster_url
from session_store.redis_store import RedisStore
from tests.cluster_server import free_node_port, require_redis_cli
from tests.redis_server import HOST, free_port, require_redis_server

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "0123456789abcdef0123456789abcdef"
_INTERPOLATION = re.compile(r"\$\$|\$\{(?P<name>\w+)(?:(?P<op>:[-?])(?P<arg>[^}]*))?\}")


def interpolate(text: str, env: Mapping[str, str]) -> str:
    """Compose's `${NAME}`, `${NAME:-default}` and `${NAME:?error}` (unset or empty), and
    `$$` for a literal `$`."""

    def one(m: re.Match[str]) -> str:
        if m[0] == "$$":
            return "$"
        value = env.get(m["name"], "")
        if value:
            return value
        if m["op"] == ":?":
            raise LookupError(f"{m['name']}: {m['arg']}")
        return m["arg"] or ""

    return _INTERPOLATION.sub(one, text)


def compose(env: Mapping[str, str]) -> dict[str, Any]:
    services = yaml.safe_load(interpolate((ROOT / "docker-compose.yml").read_text(), env))
    assert isinstance(services, dict)
    return services["services"]


def option(command: list[str], name: str) -> str:
    return command[command.index(name) + 1]


def runtime_requirements() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return [Requirement(r) for r in project["dependencies"]]


def locked_versions() -> dict[str, Version]:
    pins = re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)", (ROOT / "requirements.lock").read_text(), re.M)
    return {canonicalize_name(name): Version(v) for name, v in pins}


# --- compose ---------------------------------------------------------------------------------


def test_compose_refuses_to_start_without_a_redis_password() -> None:
    with pytest.raises(LookupError, match="REDIS_PASSWORD"):
        compose({})
    text = (ROOT / "docker-compose.yml").read_text()
    assert "${REDIS_PASSWORD:-" not in text, "a default password would be a shared secret"


def test_compose_redis_requires_the_password_and_bounds_its_memory() -> None:
    redis_service = compose({"REDIS_PASSWORD": PASSWORD})["redis"]
    command = redis_service["command"]
    assert option(command, "--requirepass") == PASSWORD
    assert option(command, "--maxmemory") == "256mb"
    assert option(command, "--maxmemory-policy") == "volatile-lru"
    assert "ports" not in redis_service, "Redis must not be published on the host"


def test_compose_server_connects_with_the_password() -> None:
    url = compose({"REDIS_PASSWORD": PASSWORD})["qac"]["environment"]["QAC_REDIS_URL"]
    kwargs = redis.Redis.from_url(url).connection_pool.connection_kwargs
    assert (kwargs["host"], kwargs["password"]) == ("redis", PASSWORD)


@pytest.fixture
def compose_redis() -> Iterator[tuple[int, dict[str, Any]]]:
    """compose's Redis service run here: its exact arguments, on a free local port."""
    server = require_redis_server()
    service = compose({"REDIS_PASSWORD": PASSWORD})["redis"]
    port = free_port()
    args = [server, *service["command"][1:], "--port", str(port), "--bind", HOST]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = redis.Redis(host=HOST, port=port, password=PASSWORD, socket_timeout=1)
    deadline = time.monotonic() + 10
    try:
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise
                time.sleep(0.01)
        yield port, service
    finally:
        client.close()
        proc.terminate()
        proc.wait(timeout=10)


@pytest.mark.redis
def test_compose_redis_refuses_clients_without_the_password(compose_redis) -> None:
    port, _ = compose_redis
    with socket.create_connection((HOST, port), timeout=1) as anonymous:
        anonymous.sendall(b"SET qac:probe 1\r\n")
        assert anonymous.recv(64).startswith(b"-NOAUTH")
    url = f"redis://:{PASSWORD}@{HOST}:{port}/0"
    with redis.Redis.from_url(url, socket_timeout=1, decode_responses=True) as client:
        assert client.config_get("maxmemory-policy") == {"maxmemory-policy": "volatile-lru"}
        assert client.config_get("maxmemory") == {"maxmemory": str(256 << 20)}


@pytest.mark.redis
def test_compose_redis_healthcheck_passes_only_when_it_authenticates(compose_redis) -> None:
    port, service = compose_redis
    kind, script = service["healthcheck"]["test"]
    assert kind == "CMD-SHELL"
    script = script.replace("redis-cli", f"redis-cli -h {HOST} -p {port}")
    env = {"PATH": "/usr/bin:/bin:/usr/local/bin"}
    with_auth = subprocess.run(["sh", "-c", script], env={**env, **service["environment"]})
    without = subprocess.run(["sh", "-c", script], env=env)
    assert (with_auth.returncode, without.returncode) == (0, 1)


# --- compose: the cluster profile --------------------------------------------------------

CLUSTER_NODES = [f"redis-node-{i}" for i in range(1, 7)]


def test_compose_cluster_profile_is_opt_in() -> None:
    services = compose({"REDIS_PASSWORD": PASSWORD})
    cluster = [*CLUSTER_NODES, "redis-cluster-init", "qac-cluster"]
    assert sorted(name for name, s in services.items() if "profiles" in s) == sorted(cluster)
    assert all(services[name]["profiles"] == ["cluster"] for name in cluster)


def test_compose_cluster_nodes_require_the_password_and_bound_their_memory() -> None:
    services = compose({"REDIS_PASSWORD": PASSWORD})
    for name in CLUSTER_NODES:
        command = services[name]["command"]
        assert option(command, "--cluster-enabled") == "yes"
        assert option(command, "--requirepass") == PASSWORD
        assert option(command, "--masterauth") == PASSWORD, "replicas must reach their master"
        assert option(command, "--cluster-require-full-coverage") == "no"
        assert option(command, "--maxmemory-policy") == "volatile-lru"
        assert option(command, "--maxmemory") == "256mb"
        assert "ports" not in services[name], "Redis must not be published on the host"


def test_compose_cluster_server_starts_after_the_cluster_is_made_and_knows_its_password() -> None:
    services = compose({"REDIS_PASSWORD": PASSWORD})
    init, server = services["redis-cluster-init"], services["qac-cluster"]
    assert init["environment"]["NODES"].split() == [f"{n}:6379" for n in CLUSTER_NODES]
    assert {name: dep["condition"] for name, dep in init["depends_on"].items()} == dict.fromkeys(
        CLUSTER_NODES, "service_healthy"
    )
    assert server["depends_on"] == {
        "redis-cluster-init": {"condition": "service_completed_successfully"}
    }
    nodes, options = parse_cluster_url(server["environment"]["QAC_REDIS_URL"])
    assert nodes and {host for host, _ in nodes} <= set(CLUSTER_NODES)
    assert options == {"password": PASSWORD}
    assert server["ports"] != services["qac"]["ports"], "both profiles can run side by side"


@pytest.fixture
def compose_cluster_nodes(tmp_path: Path) -> Iterator[list[int]]:
    """compose's six cluster nodes run here: their exact arguments, on free local ports."""
    server = require_redis_server()
    require_redis_cli()
    services = compose({"REDIS_PASSWORD": PASSWORD})
    ports, procs = [], []
    try:
        for name in CLUSTER_NODES:
            port = free_node_port()
            (tmp_path / name).mkdir()
            args = [server, *services[name]["command"][1:], "--port", str(port)]
            args += ["--bind", HOST, "--dir", str(tmp_path / name)]
            procs.append(subprocess.Popen(args, stdout=subprocess.DEVNULL))
            ports.append(port)
        for port, proc in zip(ports, procs, strict=True):
            client = redis.Redis(host=HOST, port=port, password=PASSWORD, socket_timeout=1)
            deadline = time.monotonic() + 10
            with client:
                while True:
                    try:
                        client.ping()
                        break
                    except redis.ConnectionError:
                        if proc.poll() is not None or time.monotonic() > deadline:
                            raise
                        time.sleep(0.01)
        yield ports
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()


def run_cluster_init(ports: list[int]) -> subprocess.CompletedProcess[str]:
    """compose's init job, its script as written, with the nodes' local addresses."""
    init = compose({"REDIS_PASSWORD": PASSWORD})["redis-cluster-init"]
    env = {**init["environment"], "NODES": " ".join(f"{HOST}:{p}" for p in ports)}
    env["PATH"] = "/usr/bin:/bin:/usr/local/bin"
    return subprocess.run(init["command"], env=env, capture_output=True, text=True, timeout=120)


def cluster_node_ready(client: redis.Redis) -> bool:
    role = client.info("replication")
    if role["role"] == "slave" and role.get("master_link_status") != "up":
        return False
    return "cluster_state:ok" in str(client.execute_command("CLUSTER", "INFO"))


@pytest.mark.anyio
@pytest.mark.redis
@pytest.mark.cluster
async def test_compose_cluster_forms_once_and_serves_the_store_with_the_password(
    compose_cluster_nodes: list[int],
) -> None:
    made = run_cluster_init(compose_cluster_nodes)
    assert made.returncode == 0, made.stdout + made.stderr
    again = run_cluster_init(compose_cluster_nodes)
    assert again.returncode == 0 and "exists already" in again.stdout, again.stderr
    deadline = time.monotonic() + 30
    for port in compose_cluster_nodes:  # every node sees the cluster whole, every replica
        with redis.Redis(host=HOST, port=port, password=PASSWORD, decode_responses=True) as c:
            while not cluster_node_ready(c):  # authenticated to its master and in sync
                assert time.monotonic() < deadline, c.execute_command("CLUSTER", "NODES")
                time.sleep(0.02)
    url = compose({"REDIS_PASSWORD": PASSWORD})["qac-cluster"]["environment"]["QAC_REDIS_URL"]
    local = url.split("@")[0] + "@" + ",".join(f"{HOST}:{p}" for p in compose_cluster_nodes[:3])
    store = RedisStore(local)
    await store.append("s", "cheap flights", "ann")
    assert await store.recent("s", "ann") == ["cheap flights"]
    await store.close()
    with pytest.raises(SessionStoreUnavailable):
        anonymous = RedisStore(f"redis+cluster://{HOST}:{compose_cluster_nodes[0]}")
        try:
            await anonymous.recent("s", "ann")
        finally:
            await anonymous.close()


# --- dependencies and the image -----------------------------------------------------------


def test_every_runtime_dependency_has_a_floor_and_a_ceiling() -> None:
    for req in runtime_requirements():
        ops = {spec.operator for spec in req.specifier}
        assert ">=" in ops and "<" in ops, f"{req}: needs >= floor and < next major"


def test_the_lock_pins_every_runtime_dependency_within_its_range() -> None:
    locked = locked_versions()
    for req in runtime_requirements():
        name = canonicalize_name(req.name)
        assert name in locked, f"{req.name} is not in requirements.lock; run `make lock`"
        assert req.specifier.contains(locked[name]), f"lock has {name}=={locked[name]}, not {req}"
    assert "cryptography" in locked, "PyJWT[crypto] brings cryptography for RS256/ES256"
    assert {"setuptools", "wheel"} <= set(locked), "the build backend is locked too"


def test_every_locked_package_carries_a_hash() -> None:
    entries = re.split(r"\n(?=\S)", (ROOT / "requirements.lock").read_text())
    pins = [e for e in entries if re.match(r"[A-Za-z0-9_.-]+==", e)]
    assert pins
    for entry in pins:
        assert "--hash=sha256:" in entry, f"no hash for {entry.splitlines()[0]}"


def test_the_image_installs_from_the_lock_for_the_python_it_was_compiled_for() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    base = re.search(r"^FROM python:(\d+\.\d+)", dockerfile, re.M)
    lock_python = re.search(r"^LOCK_PYTHON\s*:?=\s*(\S+)", (ROOT / "Makefile").read_text(), re.M)
    assert base and lock_python and base[1] == lock_python[1]
    runs = re.findall(r"^RUN pip install (.*)$", dockerfile, re.M)
    assert any("--require-hashes" in r and "-r requirements.lock" in r for r in runs), runs
    project = [r for r in runs if r.rstrip().endswith(" .")]
    assert project and all("--no-deps" in r for r in project), runs
