"""Whether an evaluation scores queries its index already learned from.

An index built with `--all`, or with a split that ends after the evaluated part begins,
has seen the very queries it is asked to predict: its MRR is inflated (the index `make demo`
builds scores MRR@10 0.89 on the bundled sample's test part), and nothing in the numbers
says so. The manifest records
when the queries it learned from were issued (`stats.periods`, `indexer.periods`): the
training part, and the dev part the blend weights were fitted on. An index built before
that was recorded is judged by its `build_params` (`use_all` and `split`) instead.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from indexer.params import BuildParams
from indexer.periods import Period
from indexer.sessions import Session


def learned_from(manifest: Mapping[str, Any], part: str, sessions: Sequence[Session]) -> str:
    """Why evaluating the index of `manifest` on `sessions` (the log's part `part`) inflates
    its scores, as one sentence; "" when it does not."""
    evaluated = Period.of(sessions)
    if evaluated is None:
        return ""
    stats = manifest.get("stats", {})
    try:
        params = BuildParams.from_json(manifest.get("build_params", {}))
        train, dev = _periods(stats.get("periods"), params)
    except (AttributeError, KeyError, TypeError, ValueError):
        return ""  # a damaged record says nothing either way; the loader checked the rest
    reasons = []
    if train is not None and train.overlaps(evaluated):
        how = " (built with --all)" if params.use_all else ""
        reasons.append(f"was trained on queries from {train}{how}")
    if "blend_fit" in stats and dev is not None and dev.overlaps(evaluated):
        reasons.append(f"had its blend weights fitted on queries from {dev}")
    if not reasons:
        return ""
    return (
        f"index {manifest.get('index_version', '?')} {' and '.join(reasons)}, which overlaps "
        f"the evaluated {part} part ({evaluated}): these scores are inflated; for honest ones, "
        "build without --all and evaluate a part after the index's training (--part test)"
    )


def _periods(
    recorded: Mapping[str, Any] | None, params: BuildParams
) -> tuple[Period | None, Period | None]:
    """(training period, blend-fit period): as recorded, else as `params` imply."""
    if recorded is not None:
        return Period.from_json(recorded.get("train")), Period.from_json(recorded.get("dev"))
    train = Period.of_part(params.split, "all" if params.use_all else "train")
    return train, Period.of_part(params.split, "dev")
