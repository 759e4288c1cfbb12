"""The label level by feature: a range scored through the input's columns is scored as the
node-major rows score it."""

from __future__ import annotations

import numpy as np
import pytest

from autocomplete.model.artifact import IndexFiles
from autocomplete.model.labels import LabelIndex
from autocomplete.model.xmr import XMRModel

from .conftest import XmrFixture


@pytest.fixture(scope="module")
def model_and_labels(xmr_index: XmrFixture) -> tuple[XMRModel, LabelIndex]:
    files = IndexFiles(xmr_index.path)
    return XMRModel.load(files), LabelIndex.load(files)


@pytest.mark.parametrize("previous", [(), ("ebay",), ("what is fibromyalgia", "google")])
@pytest.mark.parametrize("prefix", ["", "g", "go", "new", "new y", "www.", "zzz", "the be"])
def test_a_label_range_through_the_inputs_columns_scores_as_the_rows_do(
    model_and_labels: tuple[XMRModel, LabelIndex], previous: tuple[str, ...], prefix: str
) -> None:
    model, labels = model_and_labels
    level = model.levels[model.height - 1]
    lo, hi = labels.range(prefix)
    q = model.query(previous, prefix)
    try:
        rows = level.span(lo, hi, q.xd)
        by_columns = model.columns.span(lo, hi, q.cols, q.vals)
    finally:
        model.release(q)
    assert by_columns.shape == (hi - lo,)
    np.testing.assert_allclose(by_columns, rows, rtol=1e-12, atol=1e-12)


def test_the_cost_counts_exactly_the_weights_the_input_meets_in_the_range(
    model_and_labels: tuple[XMRModel, LabelIndex],
) -> None:
    model, labels = model_and_labels
    rows = model.levels[model.height - 1].rows().tocsc()
    lo, hi = labels.range("g")
    q = model.query(("ebay",), "g")
    model.release(q)
    _, count = model.columns.cost(lo, hi, q.cols)
    expect = [int(np.count_nonzero(rows[lo:hi, c].toarray())) for c in q.cols.tolist()]
    assert count.tolist() == expect
