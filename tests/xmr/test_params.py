"""Settings: validation, JSON round trips through the manifest and the model's files."""

from __future__ import annotations

import pytest

from autocomplete.model.featurizer import FeaturizerParams
from autocomplete.model.xmr import RankParams
from indexer.params import BuildParams
from indexer.xmr.params import XMRParams


def test_build_params_round_trip_keeps_xmr_settings() -> None:
    xp = XMRParams(
        featurizer=FeaturizerParams(ngram_max=2, context_window=2, context_decay=0.5),
        depth=1,
        max_leaf=32,
        loss="sqhinge",
    )
    b = BuildParams(model="xmr", xmr=xp)
    assert BuildParams.from_json(b.to_json()) == b
    assert b.to_json()["xmr"]["featurizer"]["ngram_max"] == 2


def test_rank_params_round_trip_and_validation() -> None:
    r = RankParams(beam=7, combine="softmax")
    assert RankParams.from_json(r.to_json()) == r
    with pytest.raises(ValueError, match="combine"):
        RankParams(combine="max")


@pytest.mark.parametrize(
    "bad",
    [{"depth": 4}, {"branching": 12}, {"max_leaf": 1}, {"loss": "hinge"}],
)
def test_invalid_xmr_params_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        XMRParams(**bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [{"context_decay": 2.0}, {"ngram_max": 0}])
def test_invalid_featurizer_params_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        FeaturizerParams(**bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(("loss", "combine"), [("softmax", "softmax"), ("sqhinge", "l3hinge")])
def test_each_loss_names_the_combination_it_is_served_with(loss: str, combine: str) -> None:
    assert XMRParams(loss=loss).combine == combine
