"""The CLI as a user meets it: real subprocesses, one-line errors, no tracebacks."""

import gzip
import json
import subprocess
import sys

import pytest


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "autocomplete.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
    )


def assert_one_line_error(p: subprocess.CompletedProcess[str], needle: str) -> None:
    assert p.returncode == 2, p
    assert "Traceback" not in p.stderr
    assert p.stderr.strip().count("\n") == 0 and needle in p.stderr, p.stderr


def test_build_evaluate_and_complete_on_the_sample(tmp_path, sample_log):
    out = tmp_path / "idx"
    p = run("build-index", "--log", str(sample_log), "--out", str(out), "--model", "mpc", "--quiet")
    assert p.returncode == 0, p.stderr
    assert "labels" in p.stdout and (out / "manifest.json").is_file()
    e = run("evaluate", "--index", str(out), "--log", str(sample_log), "--json", "--limit", "3000")
    assert e.returncode == 0, e.stderr
    res = json.loads(e.stdout)
    assert res["examples"] == 3000
    assert set(res["quality"]["all"]) >= {"overall", "1", "2", "3", "4-5", "6-10", "11+"}
    assert 0.0 < res["quality"]["all"]["overall"]["mrr@10"] < 1.0
    c = run("complete", "--index", str(out), "go")
    assert c.returncode == 0 and "google" in c.stdout


def test_missing_log_is_a_one_line_error(tmp_path):
    assert_one_line_error(
        run("build-index", "--log", str(tmp_path / "x.gz"), "--out", str(tmp_path / "o")),
        "no such file",
    )


def test_unreadable_gzip_is_a_one_line_error(tmp_path):
    bad = tmp_path / "bad.gz"
    bad.write_bytes(b"\x1f\x8b" + b"garbage" * 20)
    assert_one_line_error(
        run("build-index", "--log", str(bad), "--out", str(tmp_path / "o")), "unreadable"
    )


def test_empty_log_is_a_one_line_error(tmp_path):
    empty = tmp_path / "empty.gz"
    empty.write_bytes(gzip.compress(b""))
    assert_one_line_error(
        run("build-index", "--log", str(empty), "--out", str(tmp_path / "o")), "no query events"
    )


def test_wrong_columns_is_a_one_line_error(tmp_path):
    csv = tmp_path / "q.csv"
    csv.write_text("user,query,time\n1,foo,2006-03-01\n")
    assert_one_line_error(
        run("build-index", "--log", str(csv), "--out", str(tmp_path / "o")), "rows"
    )


def test_log_with_no_training_period_is_a_one_line_error(tmp_path):
    late = tmp_path / "late.txt"
    late.write_text("AnonID\tQuery\tQueryTime\n1\tfoo\t2006-05-12 10:00:00\n")
    assert_one_line_error(
        run("build-index", "--log", str(late), "--out", str(tmp_path / "o")), "no training sessions"
    )


def test_bad_index_directory_is_a_one_line_error(tmp_path, sample_log):
    assert_one_line_error(
        run("evaluate", "--index", str(tmp_path), "--log", str(sample_log)), "manifest"
    )


@pytest.mark.parametrize("split", ["2006-05-01", "x,y", "2006-05-09,2006-05-01"])
def test_bad_split_is_a_usage_error(tmp_path, sample_log, split):
    p = run("build-index", "--log", str(sample_log), "--out", str(tmp_path / "o"), "--split", split)
    assert p.returncode == 2 and "Traceback" not in p.stderr and "--split" in p.stderr


@pytest.mark.parametrize("k", ["0", "-1", "two"])
def test_min_users_below_one_is_a_usage_error(tmp_path, sample_log, k):
    p = run("build-index", "--log", str(sample_log), "--out", str(tmp_path / "o"), "--min-users", k)
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert "--min-users" in p.stderr and "want an integer >= 1" in p.stderr
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("flag", ["--max-repeats-per-day", "--max-queries-per-day"])
def test_a_negative_daily_bound_is_a_usage_error(tmp_path, sample_log, flag):
    p = run("build-index", "--log", str(sample_log), "--out", str(tmp_path / "o"), flag, "-1")
    assert p.returncode == 2 and flag in p.stderr and "0 = no bound" in p.stderr


def test_build_index_shares_only_queries_of_two_users_by_default(tmp_path, sample_log):
    out = tmp_path / "idx"
    p = run("build-index", "--log", str(sample_log), "--out", str(out), "--model", "mpc",
            "--no-blend", "--quiet")  # fmt: skip
    assert p.returncode == 0, p.stderr
    assert "shared with others (>= 2 users each)" in p.stdout
    m = json.loads((out / "manifest.json").read_text())
    assert m["build_params"]["kanon"] == {
        "min_users": 2,
        "max_repeats_per_day": 1,
        "max_queries_per_day": 20,
    }
    assert m["stats"]["kanon"]["labels_dropped"] > m["stats"]["kanon"]["labels_kept"]


def test_every_command_is_listed_in_the_help():
    p = run("--help")
    assert p.returncode == 0
    for command in ("build-index", "export-fresh", "evaluate", "complete", "serve", "replay"):
        assert command in p.stdout


def test_a_command_whose_import_breaks_breaks_the_cli_instead_of_vanishing():
    code = "import sys; sys.modules['autocomplete.server.config'] = None; import autocomplete.cli"
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert p.returncode != 0 and "import of autocomplete.server.config halted" in p.stderr
