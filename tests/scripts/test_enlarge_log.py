"""The scaling-test log generator: real sessions under new users and dates, real words."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from indexer.dataset import load_split
from indexer.querylog import read_events

_PATH = Path(__file__).resolve().parents[2] / "scripts" / "enlarge_log.py"
_spec = importlib.util.spec_from_file_location("enlarge_log", _PATH)
assert _spec is not None and _spec.loader is not None
enlarge_log = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = enlarge_log
_spec.loader.exec_module(enlarge_log)


def test_a_threefold_log_keeps_the_real_one_and_adds_two_shifted_copies(
    sample_log: Path, tmp_path: Path
) -> None:
    out = tmp_path / "x3.synthetic.tsv.gz"
    assert enlarge_log.main(["--log", str(sample_log), "--out", str(out), "--factor", "3"]) == 0
    real = list(read_events([sample_log]))
    big = list(read_events([out]))
    assert len(big) == 3 * len(real)
    assert big[: len(real)] == real, "copy 0 is the real log, row for row"
    users = {e.user for e in real}
    assert {e.user for e in big} == users | {f"{u}x{c}" for u in users for c in (1, 2)}
    first, last = min(e.time for e in real), max(e.time for e in real)
    assert all(first <= e.time <= last for e in big), "dates stay within the log's range"
    words = {w for e in real for w in e.query.split()}
    assert all(w in words for e in big for w in e.query.split()), "only real words"
    novel = {e.query for e in big} - {e.query for e in real}
    assert novel, "copies add distinct queries"
    split = load_split([out])
    assert split.train and split.dev and split.test


def test_the_output_is_a_function_of_the_input_and_the_seed(
    sample_log: Path, tmp_path: Path
) -> None:
    a, b, c = (tmp_path / f"{n}.tsv.gz" for n in "abc")
    for out, seed in ((a, "1"), (b, "1"), (c, "2")):
        enlarge_log.main(["--log", str(sample_log), "--out", str(out), "--seed", seed])
    assert list(read_events([a])) == list(read_events([b]))
    assert list(read_events([a])) != list(read_events([c]))


def test_distinct_queries_grow_sublinearly_with_the_log() -> None:
    assert 0.85 < enlarge_log.heaps_exponent([1, 2, 4, 8], [100, 186, 346, 644]) < 0.95
