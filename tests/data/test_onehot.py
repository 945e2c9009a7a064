"""Tests for torchlinear.data.onehot: the design matrix written directly.

The reference is scikit-learn's ``OneHotEncoder`` with the first level dropped (treatment
coding), beside the numeric columns as they are.
"""

from __future__ import annotations

import numpy as np
from sklearn.preprocessing import OneHotEncoder

from torchlinear.data.onehot import OneHotPlan


def test_numbers_and_levels_are_placed_as_treatment_coding_places_them() -> None:
    rng = np.random.default_rng(0)
    n = 200
    x = rng.normal(size=n)
    a = rng.integers(0, 7, size=n)
    b = rng.integers(0, 3, size=n)
    plan = OneHotPlan([("a", 7), ("x", None), ("b", 3)])
    X = plan.encode({"a": a, "x": x, "b": b}, n)
    encoder = OneHotEncoder(categories=[list(range(7)), list(range(3))], drop="first")
    dummies = encoder.fit_transform(np.column_stack([a, b])).toarray()
    expected = np.column_stack([dummies[:, :6], x, dummies[:, 6:]])
    np.testing.assert_array_equal(X, expected)
    assert plan.n_columns == 9 and X.flags.c_contiguous


def test_a_row_without_a_level_is_all_zeros() -> None:
    X = OneHotPlan([("c", 3)]).encode({"c": np.array([-1, 0, 2])}, 3)
    np.testing.assert_array_equal(X, [[0.0, 0.0], [0.0, 0.0], [0.0, 1.0]])


def test_a_plan_is_used_only_where_it_gives_the_expected_matrix() -> None:
    codes = {"c": np.array([0, 1, 2]), "x": np.array([5.0, 6.0, 7.0])}
    expected = np.array([[0.0, 0.0, 5.0], [1.0, 0.0, 6.0], [0.0, 1.0, 7.0]])
    assert OneHotPlan.checked([("c", 3), ("x", None)], codes, 3, expected) is not None
    # the same columns in another order, full coding, or another shape: refused
    assert OneHotPlan.checked([("x", None), ("c", 3)], codes, 3, expected) is None
    assert OneHotPlan.checked([("c", 3), ("x", None)], codes, 3, np.eye(3, 4)) is None
    assert OneHotPlan.checked([("c", 3)], codes, 3, expected) is None
