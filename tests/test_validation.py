import numpy as np
import pytest
import torch

from torchlinear._validation import (
    as_target_vector,
    check_finite,
    check_positive_float,
    check_positive_int,
    check_random_state,
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


def test_feature_matrix_inputs():
    import pandas as pd

    from torchlinear._validation import as_feature_matrix, as_target

    X, names = as_feature_matrix(pd.DataFrame({"a": [1, 2], "b": [0.5, 1.5]}))
    assert X.dtype == torch.float64 and names.tolist() == ["a", "b"]
    X32, _ = as_feature_matrix(np.ones((3, 2), dtype=np.float32))
    assert X32.dtype == torch.float32
    with pytest.raises(ValueError, match="non-numeric column.*'s'"):
        as_feature_matrix(pd.DataFrame({"a": [1.0], "s": ["x"]}))
    with pytest.raises(ValueError, match="must be 2-D"):
        as_feature_matrix(np.ones((2, 2, 2)))
    with pytest.raises(ValueError, match="0 rows"):
        as_feature_matrix(np.ones((0, 2)))
    with pytest.raises(ValueError, match="0 columns"):
        as_feature_matrix(np.ones((2, 0)))
    with pytest.raises(ValueError, match="1 NaN"):
        as_feature_matrix(np.array([[1.0, np.nan]]))
    assert as_target(pd.Series([1, 2, 3])).shape == (3,)
    with pytest.raises(ValueError, match=r"\(n,\) or \(n, 1\)"):
        as_target(np.ones((3, 2)))


def test_parameter_error_speaks_in_parameter_names():
    from torchlinear._validation import ParameterError

    error = ParameterError(
        "val_split",
        "{param} leaves {n} row(s) in {path!r} for training; use a smaller {param} or {0}",
        value=0.99,
        suggestions=[("val_split", 0)],
        n=1,
        path="a{b}.csv",  # facts are never parsed as fields
    )
    assert isinstance(error, ValueError)
    assert str(error) == (
        "val_split leaves 1 row(s) in 'a{b}.csv' for training; use a smaller val_split or "
        "val_split=0"
    )
    assert error.render(name=str.upper, setting=lambda p, v: f"{p.upper()}:{v}") == (
        "VAL_SPLIT leaves 1 row(s) in 'a{b}.csv' for training; use a smaller VAL_SPLIT or "
        "VAL_SPLIT:0"
    )
    assert (error.param, error.value, error.suggestions) == ("val_split", 0.99, (("val_split", 0),))


def test_parameter_error_with_a_bad_template_is_a_bug():
    from torchlinear._validation import ParameterError

    with pytest.raises(IndexError):
        ParameterError("lr", "{param} wrong; try {0}")  # no suggestion 0


@pytest.mark.parametrize(
    ("check", "args", "param"),
    [
        (check_positive_int, ("batch_size", 0), "batch_size"),
        (check_positive_float, ("lr", float("nan")), "lr"),
        (check_finite, ("X", np.array([np.inf])), "X"),
        (check_same_length, (np.zeros((3, 1)), np.zeros(2)), "y"),
        (as_target_vector, (torch.zeros(3, 2),), "y"),
    ],
)
def test_checks_raise_parameter_errors_naming_the_parameter(check, args, param):
    from torchlinear._validation import ParameterError

    with pytest.raises(ParameterError) as info:
        check(*args)
    assert info.value.param == param and str(info.value).startswith(param)


def test_check_seed():
    from torchlinear._validation import ParameterError, check_seed

    assert check_seed("seed", 0) == 0 and check_seed("seed", np.int64(5)) == 5
    drawn = {check_seed("seed", None) for _ in range(5)}
    assert all(0 <= s < 2**31 for s in drawn) and len(drawn) > 1
    for bad in (-1, 1.5, True, "3"):
        with pytest.raises(ParameterError, match="seed must be a non-negative integer or None"):
            check_seed("seed", bad)


def test_check_output_dir(tmp_path):
    from torchlinear._validation import ParameterError, check_output_dir

    assert check_output_dir("out", tmp_path / "a" / "b") == tmp_path / "a" / "b"
    assert not (tmp_path / "a").exists()  # creates nothing
    assert check_output_dir("out", tmp_path) == tmp_path
    (tmp_path / "file").write_text("x")
    with pytest.raises(ParameterError, match=r"out '.*file' is a file, not a folder"):
        check_output_dir("out", tmp_path / "file")
    with pytest.raises(ParameterError, match=r"cannot be created: '.*file' is a file, not a"):
        check_output_dir("out", tmp_path / "file" / "below")
    # an empty path (an unset shell variable) is not the current folder
    with pytest.raises(ParameterError, match=r"^out is empty; give a path$"):
        check_output_dir("out", "")


# ------------------------------------------------- tensors without values, odd seeds


@pytest.mark.parametrize(
    "make",
    [lambda: torch.empty(20, 2, device="meta"), lambda: torch.rand(20, 2).to_sparse()],
    ids=["meta", "sparse"],
)
def test_meta_and_sparse_tensors_are_refused_naming_the_argument(make):
    from torchlinear import LinearRegression, MLPRegressor

    X = np.random.default_rng(0).normal(size=(20, 2))
    y = X @ [1.0, 2.0]
    for est in (LinearRegression(), MLPRegressor(hidden=2, max_iter=2)):
        with pytest.raises(ValueError, match=r"^X is a (meta|sparse) tensor"):
            est.fit(make(), y)
    with pytest.raises(ValueError, match=r"^y is a (meta|sparse) tensor"):
        LinearRegression().fit(X, make()[:, 0])
    with pytest.raises(ValueError, match=r"^sample_weight is a (meta|sparse) tensor"):
        LinearRegression().fit(X, y, sample_weight=make()[:, 0])
    with pytest.raises(ValueError, match=r"^X is a (meta|sparse) tensor"):
        LinearRegression().fit(X, y).predict(make())


@pytest.mark.parametrize("seed", [1.5, "abc", np.float64(2.0), True, -1])
def test_a_random_state_that_is_no_integer_is_refused(seed):
    from torchlinear import LinearRegression, MLPRegressor, SoftmaxRegression

    X = np.random.default_rng(0).normal(size=(20, 2))
    y = X @ [1.0, 2.0]
    for est, target in (
        (LinearRegression(random_state=seed), y),
        (LinearRegression(random_state=seed, solver="sgd", max_iter=2), y),
        (SoftmaxRegression(random_state=seed), y > 0),
        (MLPRegressor(random_state=seed, hidden=2, max_iter=2), y),
    ):
        with pytest.raises(ValueError, match=r"^random_state must be None, an integer >= 0"):
            est.fit(X, target)
    assert check_random_state("random_state", np.random.RandomState(0)) >= 0
