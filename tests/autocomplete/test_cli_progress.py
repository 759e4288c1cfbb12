"""`build-index` progress as its users see it: named phases with counts and elapsed time,
plain lines when stderr is a file or pipe, an updating line on a terminal, none with --quiet."""

from __future__ import annotations

import gzip
import io
import re
import subprocess
from pathlib import Path

import pytest

from autocomplete.cli.progress import PlainLines, TerminalLines, sink_for
from indexer.progress import Progress

from .test_cli import assert_runtime_failure, run

#: the phases of the default build (xmr with the blend), in the order they run
PHASES = [
    "reading log",
    "sessions",
    "k-anonymity",
    "labels",
    "tables",
    "XR-Linear features",
    "XR-Linear tree",
    "XR-Linear training",
    "XR-Linear writing",
    "writing",
    "blend fit",
]

LINE = re.compile(r"^\[ *\d+\.\ds\] (?P<phase>[^:]+): (?P<what>.*)$")


@pytest.fixture(scope="module")
def default_build(
    tmp_path_factory: pytest.TempPathFactory, sample_log: Path
) -> subprocess.CompletedProcess[str]:
    """`build-index` on the sample as a user runs it, stderr captured (so not a terminal)."""
    out = tmp_path_factory.mktemp("cli-progress") / "idx"
    p = run("build-index", "--log", str(sample_log), "--out", str(out))
    assert p.returncode == 0, p.stderr
    return p


def test_each_phase_starts_and_ends_on_a_plain_line_in_order(
    default_build: subprocess.CompletedProcess[str],
) -> None:
    assert "\r" not in default_build.stderr
    events = [LINE.match(line) for line in default_build.stderr.splitlines()]
    assert all(events), default_build.stderr
    starts = [m["phase"] for m in events if m and m["what"].startswith("started")]
    ends = [m["phase"] for m in events if m and m["what"].startswith("done in ")]
    assert starts == PHASES and ends == PHASES


def test_phases_report_their_counts_totals_and_elapsed_time(
    default_build: subprocess.CompletedProcess[str],
) -> None:
    err = default_build.stderr
    assert re.search(r"reading log: done in \d+\.\ds: \d+ events from \d+ rows", err)
    assert re.search(r"sessions: done in .*: train \d+, dev \d+, test \d+ sessions", err)
    assert re.search(r"labels: done in .*: \d+ labels from \d+ training queries", err)
    assert re.search(r"tables: started \(4 steps\)", err)
    levels = re.findall(
        r"XR-Linear training: (\d+)/(\d+)(?:, ~\d+s left)?: level \1: \d+ nodes", err
    )
    assert levels and [int(n) for n, _ in levels] == list(range(1, len(levels) + 1))
    assert {total for _, total in levels} == {str(len(levels))}
    assert re.search(r"blend fit: 2/2: anonymous model fitted", err)


def test_quiet_prints_no_progress(tmp_path: Path, sample_log: Path) -> None:
    p = run("build-index", "--log", str(sample_log), "--out", str(tmp_path / "idx"),
            "--model", "mpc", "--no-blend", "--quiet")  # fmt: skip
    assert p.returncode == 0 and p.stderr == "", p.stderr


def test_a_failing_phase_says_so_before_the_one_error_line(tmp_path: Path) -> None:
    empty = tmp_path / "empty.gz"
    empty.write_bytes(gzip.compress(b""))
    p = run("build-index", "--log", str(empty), "--out", str(tmp_path / "o"))
    assert_runtime_failure(p, "no query events")
    assert re.search(r"\] reading log: failed after \d+\.\ds\n", p.stderr), p.stderr


def test_a_terminal_gets_one_line_per_phase_updated_in_place() -> None:
    screen = io.StringIO()
    report = Progress(TerminalLines(screen))
    with report.phase("XR-Linear training", total=3) as ph:
        for level in (1, 2, 3):
            ph.advance(detail=f"level {level}: 10 nodes")
        ph.finish("3 levels, 99 weights")
    with report.phase("labels") as ph:
        ph.finish("115 labels")
    text = screen.getvalue()
    assert "\r" in text  # redrawn in place
    final = [line.split("\r")[-1] for line in text.split("\n") if line.strip()]
    assert re.match(r"XR-Linear training: 3/3 \[00:00<00:00, 3 levels, 99 weights\]", final[0])
    assert re.match(r"labels \[00:00, 115 labels\]", final[1])


def test_the_sink_follows_the_stream(tmp_path: Path) -> None:
    with open(tmp_path / "log", "w") as file:
        assert isinstance(sink_for(file, quiet=False), PlainLines)
        assert sink_for(file, quiet=True) is None
