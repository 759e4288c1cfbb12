"""The CLI as a user meets it: real subprocesses, one-line errors, no tracebacks.

Exit statuses (`autocomplete.cli.errors`): 1 when the command line was fine but the world
was not (a log, an index, a server), 2 when the command line itself was wrong.
"""

import gzip
import json
import re
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


def assert_one_line_error(p: subprocess.CompletedProcess[str], needle: str, status: int) -> None:
    """Exit `status` and one error line naming `needle`, last on stderr; a build's progress
    lines (`[   0.1s] phase: ...`) may come before it, nothing else may."""
    assert p.returncode == status, p
    assert "Traceback" not in p.stderr
    lines = p.stderr.splitlines()
    others = [line for line in lines if not line.startswith("[")]
    assert others == lines[-1:], p.stderr
    assert others[0].startswith("autocomplete: error: ") and needle in others[0], p.stderr


def assert_runtime_failure(p: subprocess.CompletedProcess[str], needle: str) -> None:
    assert_one_line_error(p, needle, 1)


def assert_usage_error(p: subprocess.CompletedProcess[str], needle: str) -> None:
    assert_one_line_error(p, needle, 2)


#: the CLI in a process where the `scale` extra (Dask, pyarrow) cannot be imported, as in the
#: Docker image and a plain `pip install session-qac`
WITHOUT_SCALE = """
import sys
class NoScale:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("dask", "distributed", "pyarrow"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, NoScale())
from autocomplete.cli.main import main
sys.exit(main(sys.argv[1:]))
"""


def run_without_scale(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", WITHOUT_SCALE, *args], capture_output=True, text=True, timeout=300
    )


def test_without_the_scale_extra_builds_work_and_partitions_say_what_to_install(
    tmp_path, sample_log
):
    out = tmp_path / "idx"
    p = run_without_scale(
        "build-index", "--log", str(sample_log), "--out", str(out), "--model", "mpc", "--quiet"
    )
    assert p.returncode == 0, p.stderr
    assert (out / "manifest.json").is_file()
    c = run_without_scale("complete", "--index", str(out), "go")
    assert c.returncode == 0 and "google" in c.stdout
    p = run_without_scale(
        "build-index", "--log", str(sample_log), "--out", str(tmp_path / "p"), "--partitions", "2"
    )
    assert_runtime_failure(p, "pip install 'session-qac[scale]'")
    assert not (tmp_path / "p").exists()


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


def test_a_missing_log_is_a_runtime_failure(tmp_path):
    assert_runtime_failure(
        run("build-index", "--log", str(tmp_path / "x.gz"), "--out", str(tmp_path / "o")),
        "no such file",
    )


def test_unreadable_gzip_is_a_one_line_error(tmp_path):
    bad = tmp_path / "bad.gz"
    bad.write_bytes(b"\x1f\x8b" + b"garbage" * 20)
    assert_runtime_failure(
        run("build-index", "--log", str(bad), "--out", str(tmp_path / "o")), "unreadable"
    )


def test_empty_log_is_a_one_line_error(tmp_path):
    empty = tmp_path / "empty.gz"
    empty.write_bytes(gzip.compress(b""))
    assert_runtime_failure(
        run("build-index", "--log", str(empty), "--out", str(tmp_path / "o")), "no query events"
    )


def test_wrong_columns_is_a_one_line_error(tmp_path):
    csv = tmp_path / "q.csv"
    csv.write_text("user,query,time\n1,foo,2006-03-01\n")
    p = run("build-index", "--log", str(csv), "--out", str(tmp_path / "o"))
    assert_runtime_failure(p, "rows")


def test_log_with_no_training_period_is_a_one_line_error(tmp_path):
    late = tmp_path / "late.txt"
    late.write_text("AnonID\tQuery\tQueryTime\n1\tfoo\t2006-05-12 10:00:00\n")
    assert_runtime_failure(
        run("build-index", "--log", str(late), "--out", str(tmp_path / "o")), "no training sessions"
    )


def test_a_bad_index_directory_is_a_runtime_failure(tmp_path, sample_log):
    assert_runtime_failure(
        run("evaluate", "--index", str(tmp_path), "--log", str(sample_log)), "manifest"
    )


def test_a_missing_index_directory_is_a_runtime_failure(tmp_path):
    missing = tmp_path / "no-such-index"
    assert_runtime_failure(run("complete", "--index", str(missing), "go"), str(missing))


def test_an_unknown_flag_is_a_one_line_usage_error():
    p = run("complete", "--index", "idx", "--colour", "go")
    assert_usage_error(p, "unrecognized arguments: --colour")
    assert "autocomplete complete --help" in p.stderr


def test_a_missing_required_flag_is_a_one_line_usage_error():
    assert_usage_error(run("evaluate", "--log", "x.gz"), "--index")


@pytest.mark.parametrize("k", ["0", "-1", "101", "999", "two", "2.5"])
def test_k_outside_1_to_100_is_a_usage_error(mpc_index_dir, k):
    p = run("complete", "--index", str(mpc_index_dir), "--k", k, "go")
    assert_usage_error(p, "argument --k: want an integer from 1 to 100")
    assert p.stdout == ""


def test_complete_prints_no_ranked_item_with_a_score_shown_as_zero(blend_index_dir):
    """The blend's scores are probabilities over its candidates; one it all but rules out
    (1e-27) is printed as such, not as a 0.0000 that reads like a tie among the ranked."""
    p = run("complete", "--index", str(blend_index_dir), "--k", "100", "go", "new y")
    assert p.returncode == 0, p.stderr
    rows = re.findall(r"^ +(\S+)  (.+)  \[(\w+)\]$", p.stdout, re.MULTILINE)
    assert len(rows) > 20
    assert all(float(score) > 0 for score, _, _ in rows), p.stdout
    assert len({text for _, text, _ in rows}) == len(rows)


def test_a_prefix_nothing_extends_says_so(mpc_index_dir):
    p = run("complete", "--index", str(mpc_index_dir), "--k", "100", "qqqqzzzz")
    assert p.returncode == 0 and "(no completions)" in p.stdout, p


@pytest.mark.parametrize("split", ["2006-05-01", "x,y", "2006-05-09,2006-05-01"])
def test_bad_split_is_a_usage_error(tmp_path, sample_log, split):
    p = run("build-index", "--log", str(sample_log), "--out", str(tmp_path / "o"), "--split", split)
    assert_usage_error(p, "--split")


@pytest.mark.parametrize("k", ["0", "-1", "two"])
def test_min_users_below_one_is_a_usage_error(tmp_path, sample_log, k):
    p = run("build-index", "--log", str(sample_log), "--out", str(tmp_path / "o"), "--min-users", k)
    assert_usage_error(p, "argument --min-users: want an integer >= 1")
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("flag", ["--max-repeats-per-day", "--max-queries-per-day"])
def test_a_negative_daily_bound_is_a_usage_error(tmp_path, sample_log, flag):
    p = run("build-index", "--log", str(sample_log), "--out", str(tmp_path / "o"), flag, "-1")
    assert_usage_error(p, "0 = no bound")
    assert flag in p.stderr


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
