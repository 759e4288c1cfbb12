"""Settings: validation, JSON round trips through the manifest."""

from __future__ import annotations

import pytest

from indexer.params import BuildParams
from indexer.xmr.params import CONDITIONS, FEATURES, RankParams, XMRParams, bucket_index


def test_build_params_round_trip_keeps_xmr_settings() -> None:
    b = BuildParams(model="xmr", xmr=XMRParams(depth=1, max_leaf=32, loss="sqhinge"))
    assert BuildParams.from_json(b.to_json()) == b


def test_rank_params_round_trip_and_shape() -> None:
    r = RankParams(beam=7)
    assert RankParams.from_json(r.to_json()) == r
    assert len(r.weights) == len(CONDITIONS) and len(r.weights[0][0]) == len(FEATURES)
    with pytest.raises(ValueError, match="condition"):
        RankParams(weights=((1.0,),))


@pytest.mark.parametrize(
    "bad",
    [
        {"depth": 4},
        {"branching": 12},
        {"max_leaf": 1},
        {"loss": "hinge"},
        {"context_decay": 2.0},
        {"ngram_max": 0},
    ],
)
def test_invalid_xmr_params_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        XMRParams(**bad)  # type: ignore[arg-type]


def test_bucket_index_matches_the_metric_buckets() -> None:
    assert [bucket_index(n) for n in (1, 2, 3, 4, 5, 6, 10, 11, 50)] == [0, 1, 2, 3, 3, 4, 4, 5, 5]
