import numpy as np
import pytest
import torch

from torchlinear._validation import (
    as_target_vector,
    check_finite,
    check_positive_float,
    check_positive_int,
    check_same_length,
)


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "3", None])
def test_positive_int_rejects(bad):
    with pytest.raises(ValueError, match="batch_size"):
        check_positive_int("batch_size", bad)


@pytest.mark.parametrize("bad", [0, -0.1, float("nan"), float("inf"), "x"])
def test_positive_float_rejects(bad):
    with pytest.raises(ValueError, match="lr"):
        check_positive_float("lr", bad)


def test_check_finite_counts_and_locates():
    X = np.ones((5, 3))
    X[2, 1] = np.nan
    X[4, 0] = np.inf
    with pytest.raises(ValueError, match=r"2 NaN/inf .* row 2, column 1"):
        check_finite("X", X)
    with pytest.raises(ValueError, match=r"1 NaN/inf .* row 3"):
        check_finite("y", torch.tensor([0.0, 1.0, 2.0, float("nan")]))
    check_finite("ints", np.arange(4))


def test_same_length_names_both():
    with pytest.raises(ValueError, match="y has 999 rows but X has 1000"):
        check_same_length(np.zeros((1000, 2)), np.zeros(999))


def test_target_vector_shape_guard():
    assert as_target_vector(torch.zeros(7, 1)).shape == (7,)
    assert as_target_vector(torch.zeros(7)).shape == (7,)
    with pytest.raises(ValueError, match=r"\(n,\) or \(n, 1\)"):
        as_target_vector(torch.zeros(7, 2))
