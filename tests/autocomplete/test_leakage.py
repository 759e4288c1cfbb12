"""`evaluate` warns when the index learned from the queries it is scored on: an index built
with --all (or with a split that ends late) would otherwise report inflated figures silently."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

from autocomplete.leakage import learned_from
from indexer.dataset import SplitSessions
from indexer.params import BuildParams
from indexer.periods import period
from indexer.sessions import TimeSplit

from .test_cli import run


def manifest(
    data: SplitSessions, params: BuildParams, *, blend: bool = True, recorded: bool = True
) -> dict[str, Any]:
    """What `build_full` writes for `params` on `data` (periods left out, as indexes built
    before they were recorded)."""
    train = data.part("all") if params.use_all else data.train
    stats: dict[str, Any] = {"blend_fit": {}} if blend else {}
    if recorded:
        stats["periods"] = {"train": period(train), "dev": period(data.dev)}
    return {"index_version": "mpc-0", "build_params": params.to_json(), "stats": stats}


def test_an_index_trained_before_the_test_part_is_scored_on_it_without_a_warning(
    sample_split: SplitSessions,
) -> None:
    for recorded in (True, False):
        m = manifest(sample_split, BuildParams(), recorded=recorded)
        assert learned_from(m, "test", sample_split.test) == ""


def test_an_index_built_with_all_is_trained_on_the_test_part(
    sample_split: SplitSessions,
) -> None:
    m = manifest(sample_split, BuildParams(use_all=True))
    why = learned_from(m, "test", sample_split.test)
    assert "index mpc-0 was trained on queries from 2006-03-01 to 2006-05-16" in why
    assert "(built with --all)" in why
    assert "overlaps the evaluated test part (2006-05-09 to 2006-05-16)" in why
    assert "these scores are inflated" in why


def test_an_index_that_recorded_no_periods_is_judged_by_its_build_params(
    sample_split: SplitSessions,
) -> None:
    m = manifest(sample_split, BuildParams(use_all=True), recorded=False)
    assert "was trained on queries from any time (built with --all)" in learned_from(
        m, "test", sample_split.test
    )
    late = replace(BuildParams(), split=TimeSplit(date(2006, 5, 20), date(2006, 5, 25)))
    m = manifest(sample_split, late, blend=False, recorded=False)
    assert "trained on queries from any time up to 2006-05-19" in learned_from(
        m, "test", sample_split.test
    )


def test_the_dev_part_is_what_the_blend_was_fitted_on(sample_split: SplitSessions) -> None:
    fitted = manifest(sample_split, BuildParams())
    why = learned_from(fitted, "dev", sample_split.dev)
    assert "had its blend weights fitted on queries from 2006-05-01 to 2006-05-08" in why
    assert "trained on" not in why
    bare = manifest(sample_split, BuildParams(), blend=False)
    assert learned_from(bare, "dev", sample_split.dev) == ""


def test_a_damaged_record_is_no_warning_rather_than_a_crash(sample_split: SplitSessions) -> None:
    m = manifest(sample_split, BuildParams())
    m["stats"]["periods"] = {"train": {"first": "yesterday"}}
    assert learned_from(m, "test", sample_split.test) == ""
    m["stats"]["periods"] = ["not", "a", "mapping"]
    assert learned_from(m, "test", sample_split.test) == ""


def test_evaluate_warns_on_stderr_and_still_reports(tmp_path: Path, sample_log: Path) -> None:
    out = tmp_path / "all"
    b = run("build-index", "--log", str(sample_log), "--out", str(out), "--all",
            "--model", "mpc", "--no-blend", "--min-users", "1", "--quiet")  # fmt: skip
    assert b.returncode == 0, b.stderr
    assert json.loads((out / "manifest.json").read_text())["stats"]["periods"]["train"] == {
        "first": "2006-03-01T00:29:58Z",
        "last": "2006-05-16T23:47:47Z",
    }
    e = run("evaluate", "--index", str(out), "--log", str(sample_log), "--json", "--limit", "500")
    assert e.returncode == 0 and json.loads(e.stdout)["examples"] == 500
    assert e.stderr.startswith("autocomplete: warning: index mpc-") and e.stderr.count("\n") == 1
    assert "(built with --all), which overlaps the evaluated test part" in e.stderr


def test_evaluate_of_an_index_trained_before_the_test_part_says_nothing_more(
    mpc_index_dir: Path, sample_log: Path
) -> None:
    e = run("evaluate", "--index", str(mpc_index_dir), "--log", str(sample_log), "--json",
            "--limit", "500")  # fmt: skip
    assert e.returncode == 0 and e.stderr == "", e.stderr
