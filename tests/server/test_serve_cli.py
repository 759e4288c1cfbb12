"""`autocomplete serve` argument handling: mistakes are one line on stderr, exit 2 for a bad
argument or setting, exit 1 for an index that is not there."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from autocomplete.cli import build_parser
from tests.live_server import ROOT


def serve(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("QAC_")}
    return subprocess.run(
        [sys.executable, "-m", "autocomplete.cli", "serve", *args],
        cwd=ROOT,
        env={**clean, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_serve_is_a_subcommand_with_the_documented_flags() -> None:
    args = build_parser().parse_args(
        [
            "serve",
            "--index",
            "i",
            "--redis",
            "redis://r:6379/0",
            "--host",
            "0.0.0.0",
            "--port",
            "9",
            "--workers",
            "2",
            "--allowed-origins",
            "https://a.example/, *",
            "--log-format",
            "json",
        ]
    )
    assert (args.index, args.redis_url, args.host, args.port, args.workers) == (
        "i",
        "redis://r:6379/0",
        "0.0.0.0",
        9,
        2,
    )
    assert args.allowed_origins == ("https://a.example", "*")
    assert args.log_format == "json"


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        ((), {}, "no index directory: pass --index DIR or set QAC_INDEX"),
        (("--index", "x"), {"QAC_MAX_CONNECTIONS": "lots"}, "QAC_MAX_CONNECTIONS"),
        (("--index", "x", "--workers", "0"), {}, "QAC_WORKERS must be >= 1"),
        (("--port", "http"), {}, "argument --port: invalid int value: 'http'"),
    ],
)
def test_mistakes_exit_2_with_one_line(
    args: tuple[str, ...], env: dict[str, str], message: str
) -> None:
    result = serve(*args, env=env)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("autocomplete: error: ") and message in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("args", "env"),
    [(("--index", "/nonexistent/index"), {}), ((), {"QAC_INDEX": "/nonexistent/index"})],
)
def test_a_missing_index_exits_1_with_one_line(args: tuple[str, ...], env: dict[str, str]) -> None:
    result = serve(*args, env=env)
    assert result.returncode == 1, result.stderr
    assert result.stderr.startswith("autocomplete: error: /nonexistent/index")
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_malformed_redis_url_is_refused_before_serving(
    built_sample_index: Path, workers: str
) -> None:
    result = serve(
        "--index",
        str(built_sample_index),
        "--redis",
        "not-a-url",
        "--workers",
        workers,
        "--port",
        "0",
    )
    assert result.returncode == 2
    assert "Redis URL must specify" in result.stderr


def test_a_broken_blocklist_is_refused_before_serving_with_its_line(
    built_sample_index: Path, tmp_path: Path
) -> None:
    rules = tmp_path / "blocklist.txt"
    rules.write_text("fine words\nre:(unclosed\n")
    assert build_parser().parse_args(["serve", "--blocklist", str(rules)]).blocklist == str(rules)
    result = serve("--index", str(built_sample_index), "--blocklist", str(rules), "--port", "0")
    assert result.returncode == 2, result.stderr
    assert f"QAC_BLOCKLIST: {rules}:2: bad pattern" in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
