"""The production build (`--all`): every event served, the models still fitted out of sample."""

import json
from datetime import date

import pytest

from autocomplete.build import build_full
from autocomplete.fit import FitParams
from autocomplete.model.artifact import IndexFiles
from indexer.errors import LogFormatError
from indexer.kanon import KAnonParams
from indexer.params import BuildParams
from indexer.sessions import TimeSplit


@pytest.fixture(scope="module")
def all_index_dir(tmp_path_factory, sample_log):
    out = tmp_path_factory.mktemp("idx") / "all"
    params = BuildParams(model="mpc", kanon=KAnonParams.off(), use_all=True)
    build_full([sample_log], out, params, fit_params=FitParams(every=8))
    return out


def test_the_served_index_holds_every_event_but_its_models_are_the_train_only_fit(
    all_index_dir, blend_index_dir
):
    served, train_only = IndexFiles(all_index_dir), IndexFiles(blend_index_dir)
    assert served.manifest["label_count"] > train_only.manifest["label_count"]
    for name in ("blend", "learned"):  # fitted on dev over the train-only index, kept as is
        assert served.json(name) == train_only.json(name)
    assert "out of sample" in served.manifest["stats"]["blend_fit"]["fitted_on"]


def test_no_temporary_fit_index_is_left_beside_the_served_one(all_index_dir):
    assert [p.name for p in all_index_dir.parent.iterdir()] == ["all"]


def test_all_without_a_dev_part_refuses_instead_of_fitting_in_sample(tmp_path, sample_log):
    after_the_log = TimeSplit(date(2099, 1, 1), date(2099, 2, 1))  # everything is train
    params = BuildParams(model="mpc", kanon=KAnonParams.off(), use_all=True, split=after_the_log)
    with pytest.raises(LogFormatError, match="out of sample"):
        build_full([sample_log], tmp_path / "x", params)
    assert not (tmp_path / "x").exists()


def test_the_linear_ranker_can_be_chosen_and_then_no_trees_are_stored(tmp_path, sample_log):
    out = tmp_path / "linear"
    build_full(
        [sample_log],
        out,
        BuildParams(model="mpc", kanon=KAnonParams.off()),
        fit_params=FitParams(every=8, trees=None),
    )
    files = IndexFiles(out)
    assert files.has("blend") and not files.has("learned")
    assert json.loads((out / "blend.json").read_text())["version"] == 1


def test_the_streaming_driver_builds_the_same_out_of_sample_all_index(
    tmp_path, sample_log, all_index_dir
):
    from autocomplete.streamed import build_full_streamed
    from indexer.stream.params import StreamParams

    out = tmp_path / "streamed"
    params = BuildParams(model="mpc", kanon=KAnonParams.off(), use_all=True)
    build_full_streamed(
        [sample_log], out, params, None, StreamParams(buckets=3), fit_params=FitParams(every=8)
    )
    ours, theirs = IndexFiles(out).manifest, IndexFiles(all_index_dir).manifest
    assert {k: v["sha256"] for k, v in ours["files"].items()} == {
        k: v["sha256"] for k, v in theirs["files"].items()
    }
    assert [p.name for p in tmp_path.iterdir()] == ["streamed"]
