"""Few rows, many columns: the exact solver's n x n path against NumPy and scikit-learn."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from sklearn.linear_model import Ridge

from torchlinear import LinearRegression
from torchlinear._memory import memory_limit
from torchlinear.exact import RankDeficientWarning, lstsq, solve_exact


def _problem(n: int, d: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)), rng.normal(size=(n, 2)), rng.uniform(0.5, 2.0, size=n)


def _close(a: np.ndarray, b: np.ndarray, tol: float = 1e-10) -> None:
    scale = max(float(np.abs(b).max()), 1e-300)
    assert float(np.abs(a - b).max()) / scale < tol


@pytest.mark.parametrize(("n", "d"), [(5, 3000), (5, 20_000), (12, 40), (2, 2)])
def test_min_norm_without_intercept_is_numpy_lstsq(n: int, d: int) -> None:
    X, Y, _ = _problem(n, d)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RankDeficientWarning)
        sol = lstsq(X, Y, fit_intercept=False)
    _close(sol.coef.numpy(), np.linalg.lstsq(X, Y, rcond=None)[0])
    assert float(sol.intercept.abs().max()) == 0.0


@pytest.mark.parametrize(("n", "d"), [(5, 3000), (7, 20_000), (12, 40)])
def test_min_norm_with_intercept_and_weights_is_the_centred_problem(n: int, d: int) -> None:
    X, Y, w = _problem(n, d, seed=1)
    with pytest.warns(RankDeficientWarning, match=f"X has {n} row"):
        sol = lstsq(X, Y, sample_weight=w)
    xm, ym = w @ X / w.sum(), w @ Y / w.sum()
    sw = np.sqrt(w)[:, None]
    ref = np.linalg.lstsq(sw * (X - xm), sw * (Y - ym), rcond=None)[0]
    _close(sol.coef.numpy(), ref)
    _close(sol.intercept.numpy(), ym - xm @ ref)
    assert sol.rank == n - 1 and sol.solver == "svd"
    # the residuals of an interpolating fit are zero
    assert float(sol.rss.max()) < 1e-20 * float(sol.tss.max())


@pytest.mark.parametrize("alpha", [1e-3, 0.7, 50.0])
def test_ridge_with_few_rows_is_scikit_learn_ridge(alpha: float) -> None:
    X, Y, w = _problem(6, 5000, seed=2)
    sol = lstsq(X, Y, alpha=alpha, sample_weight=w)
    ref = Ridge(alpha=alpha).fit(X, Y, sample_weight=w)
    _close(sol.coef.numpy().T, ref.coef_)
    _close(sol.intercept.numpy(), ref.intercept_)
    assert sol.rank == 5000


def test_constant_column_gets_zero() -> None:
    X, Y, _ = _problem(4, 50, seed=3)
    X[:, 7] = 3.25
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RankDeficientWarning)
        sol = lstsq(X, Y[:, 0])
    assert float(sol.coef[7, 0]) == 0.0
    Xc = np.delete(X, 7, axis=1)
    ref = np.linalg.lstsq(Xc - Xc.mean(0), Y[:, 0] - Y[:, 0].mean(), rcond=None)[0]
    _close(np.delete(sol.coef[:, 0].numpy(), 7), ref)


def test_streamed_chunks_switch_to_statistics_once_rows_pass_columns() -> None:
    rng = np.random.default_rng(4)
    X = rng.normal(size=(60, 8))
    y = X @ np.arange(1.0, 9.0) + 0.5
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    chunks = lambda: [(Xt[i : i + 3], yt[i : i + 3], None) for i in range(0, 60, 3)]  # noqa: E731
    sol = solve_exact(chunks)
    _close(sol.coef[:, 0].numpy(), np.arange(1.0, 9.0), 1e-12)
    assert abs(float(sol.intercept[0]) - 0.5) < 1e-12
    assert sol.solver in ("cholesky", "qr")


def test_estimator_fits_a_wide_problem_within_a_small_budget() -> None:
    X, Y, _ = _problem(5, 20_000, seed=5)
    with memory_limit("64M"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RankDeficientWarning)
        model = LinearRegression().fit(X, Y[:, 0])
    ref = np.linalg.lstsq(X - X.mean(0), Y[:, 0] - Y[:, 0].mean(), rcond=None)[0]
    _close(model.coef_, ref)
    np.testing.assert_allclose(model.predict(X), Y[:, 0], atol=1e-9)


def test_statistics_beyond_the_budget_are_refused_before_allocating() -> None:
    X, Y, _ = _problem(400, 300, seed=6)
    # 6 matrices of (300 + 2 + 1)**2 float64 = 4.41 MB: above a 1 MB budget
    with memory_limit("1M"), pytest.raises(ValueError, match=r"300 columns need 4.41 MB") as err:
        lstsq(X, Y)
    assert "memory budget of 1.05 MB (memory_limit)" in str(err.value)
    assert "solver='sgd'" in str(err.value)
    lstsq(X, Y)  # the default budget holds it


def test_an_svd_that_fails_to_converge_falls_back_to_the_qr_iteration(monkeypatch):
    # LAPACK's divide-and-conquer SVD (torch's) can fail to converge on large matrices with
    # many repeated singular values (thousands of one-hot columns); the fit goes on
    import torchlinear.exact.solution as solution

    rng = np.random.default_rng(0)
    X = rng.normal(size=(6, 10))
    y = rng.normal(size=6)
    expected = solution.solve_rows(
        torch.from_numpy(X), torch.from_numpy(y[:, None]), None, 0.0, True, None
    )

    def failing(*args, **kwargs):
        raise torch.linalg.LinAlgError("linalg.svd: The algorithm failed to converge")

    monkeypatch.setattr(torch.linalg, "svd", failing)
    got = solution.solve_rows(
        torch.from_numpy(X), torch.from_numpy(y[:, None]), None, 0.0, True, None
    )
    np.testing.assert_allclose(got.coef.numpy(), expected.coef.numpy(), rtol=1e-10, atol=1e-13)
