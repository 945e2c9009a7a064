"""Tests for the parts shared by the tabular readers (torchlinear.data._parts).

Regrouping parts and record batches must keep every row, in order, with its target and
mask, and cut exactly ``rows`` rows per group; the reference is the concatenation of the
input and its cut at multiples of ``rows``.
"""

import numpy as np
import pyarrow as pa
import pytest

from torchlinear.data._parts import Selection, arrow_part, rechunk, regroup


def _pieces(sizes, seed):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal((m, 3)) for m in sizes]


@pytest.mark.parametrize("rows", [1, 4, 7, 100])
@pytest.mark.parametrize("labels", [False, True])
def test_regroup_keeps_rows_in_order_with_exact_sizes(rows, labels):
    sizes = [5, 0, 1, 12, 3, 3, 9, 2]
    Xs = _pieces(sizes, seed=rows)
    start = np.cumsum([0, *sizes])
    parts = []
    for X, a in zip(Xs, start, strict=False):
        if labels:  # Arrow labels and their null mask, as a classification reads them
            y = pa.chunked_array([pa.array([f"r{a + i}" for i in range(len(X))], pa.string())])
            parts.append((X, y, np.arange(a, a + len(X)) % 3 == 0))
        else:
            parts.append((X, np.arange(a, a + len(X), dtype=np.float64), None))
    out = list(regroup(parts, rows))
    n = sum(sizes)
    expected_sizes = [rows] * (n // rows) + ([n % rows] if n % rows else [])
    assert [len(X) for X, _, _ in out] == expected_sizes
    np.testing.assert_array_equal(np.concatenate([X for X, _, _ in out]), np.concatenate(Xs))
    if labels:
        names = [v for _, y, _ in out for v in y.to_pylist()]
        assert names == [f"r{i}" for i in range(n)]
        masks = np.concatenate([m for _, _, m in out])
        np.testing.assert_array_equal(masks, np.arange(n) % 3 == 0)
    else:
        np.testing.assert_array_equal(np.concatenate([y for _, y, _ in out]), np.arange(n))


@pytest.mark.parametrize("rows", [1, 3, 10, 50])
def test_rechunk_cuts_batches_at_exact_sizes(rows):
    sizes = [4, 0, 7, 1, 13]
    start = np.cumsum([0, *sizes])
    batches = [
        pa.record_batch([pa.array(np.arange(a, a + m, dtype=np.int64))], names=["x"])
        for a, m in zip(start, sizes, strict=False)
    ]
    tables = list(rechunk(batches, rows))
    n = sum(sizes)
    assert [t.num_rows for t in tables] == [rows] * (n // rows) + ([n % rows] if n % rows else [])
    assert [v for t in tables for v in t.column("x").to_pylist()] == list(range(n))


def test_arrow_part_reads_numbers_as_float64_and_keeps_labels():
    table = pa.table(
        {
            "a": pa.array([1, None, 3], pa.int32()),
            "b": [True, False, True],
            "kind": pa.array(["x", None, "x"]).dictionary_encode(),
        }
    )
    regression = Selection("t", ["a", "b"], None, "regression", [], batch_rows=3)
    X, y, mask = arrow_part(table, regression)
    np.testing.assert_array_equal(X, [[1.0, 1.0], [np.nan, 0.0], [3.0, 1.0]])
    assert X.dtype == np.float64 and y is None and mask is None
    classification = Selection("t", ["a", "b"], "kind", "classification", [], batch_rows=3)
    X, y, mask = arrow_part(table, classification)
    assert y.to_pylist() == ["x", None, "x"] and mask.tolist() == [False, True, False]
