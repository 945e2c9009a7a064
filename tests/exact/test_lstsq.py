"""Exact least squares: accuracy against rational arithmetic, streaming, merging, ridge."""

from __future__ import annotations

import warnings
from fractions import Fraction

import numpy as np
import pytest
import torch
from sklearn.linear_model import LinearRegression as SkLinearRegression
from sklearn.linear_model import Ridge

import torchlinear.exact as exact
import torchlinear.exact.driver as driver
from torchlinear.exact import (
    GramStats,
    IllConditionedWarning,
    RankDeficientWarning,
    TSQRStats,
    gram_pass,
    lstsq,
    tsqr_pass,
)


def exact_lstsq(A: np.ndarray, y: np.ndarray) -> list[Fraction]:
    """The exact least-squares solution of the float64 data ``A``, ``y`` (full column rank):
    the normal equations built and solved in rational arithmetic."""
    n, p = A.shape
    Af = [[Fraction(float(v)) for v in row] for row in A]
    yf = [Fraction(float(v)) for v in y]
    M = [
        [sum(Af[r][i] * Af[r][j] for r in range(n)) for j in range(p)]
        + [sum(Af[r][i] * yf[r] for r in range(n))]
        for i in range(p)
    ]
    for c in range(p):
        pivot = next(r for r in range(c, p) if M[r][c] != 0)
        M[c], M[pivot] = M[pivot], M[c]
        for r in range(p):
            if r != c and M[r][c] != 0:
                f = M[r][c] / M[c][c]
                M[r] = [a - f * b for a, b in zip(M[r], M[c], strict=True)]
    return [M[i][p] / M[i][i] for i in range(p)]


def digits(estimate: np.ndarray, reference: list[Fraction]) -> np.ndarray:
    """Correct significant digits of each entry (exact comparison, 17 when equal)."""
    out = []
    for e, r in zip(estimate, reference, strict=True):
        err = abs(Fraction(float(e)) - r) / abs(r)
        out.append(17.0 if err == 0 else -np.log10(float(err)))
    return np.array(out)


def theta(sol: exact.LstsqSolution) -> np.ndarray:
    return np.r_[sol.intercept.numpy()[:1], sol.coef[:, 0].numpy()]


def filip_like(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """NIST Filip's shape: a degree-10 polynomial in x on [-9, -3], 82 points."""
    rng = np.random.default_rng(seed)
    x = np.sort(rng.uniform(-9.0, -3.0, 82))
    X = np.vander(x, 11, increasing=True)[:, 1:]
    y = 0.85 + 0.05 * np.sin(x) + 3e-3 * rng.standard_normal(82)
    return X, y


# ----------------------------------------------------------------------------- accuracy


@pytest.mark.parametrize("seed", [0, 1])
def test_filip_degree10_polynomial_seven_digits(seed):
    X, y = filip_like(seed)
    assert np.linalg.cond(np.c_[np.ones(82), X]) > 1e14  # the problem is that hard
    reference = exact_lstsq(np.c_[np.ones(82), X], y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning: the answer is accurate
        sol = lstsq(X, y)
    assert sol.solver == "qr"  # the normal equations were rejected
    assert sol.cond > 1e8
    assert digits(theta(sol), reference).min() >= 7
    # the textbook tools get none of it right
    numpy_theta = np.linalg.lstsq(np.c_[np.ones(82), X], y, rcond=None)[0]
    assert digits(numpy_theta, reference).min() < 3


def test_polynomial_degree5_recovers_ones():
    x = np.arange(21.0)
    X = np.vander(x, 6, increasing=True)[:, 1:]
    y = 1.0 + X.sum(axis=1)
    sol = lstsq(X, y)
    assert np.all(np.abs(theta(sol) - 1.0) <= 1e-9)


def test_longley_twelve_digits():
    sm = pytest.importorskip("statsmodels.api")
    data = sm.datasets.longley.load_pandas().data
    y = data["TOTEMP"].to_numpy(dtype=np.float64)
    X = data.drop(columns="TOTEMP").to_numpy(dtype=np.float64)
    assert X.shape == (16, 6)
    reference = exact_lstsq(np.c_[np.ones(16), X], y)
    for solver in ("auto", "qr", "svd"):
        sol = lstsq(X, y, solver=solver)
        assert digits(theta(sol), reference).min() >= 12, solver


def test_refinement_passes_reach_qr_accuracy(monkeypatch):
    """Without the small-problem polish, float64 refinement passes fix the Cholesky answer."""
    monkeypatch.setattr(driver, "POLISH_MAX_ELEMENTS", 0)
    rng = np.random.default_rng(3)
    t = rng.uniform(0, 1, 400)
    X = np.c_[t, t**2, t**3, rng.normal(size=400)]
    y = 2 - t + 3 * t**3 + 0.01 * rng.normal(size=400)
    reference = exact_lstsq(np.c_[np.ones(400), X], y)
    plain = lstsq(X, y, refine=False, chunk_rows=64)
    refined = lstsq(X, y, chunk_rows=64)
    assert plain.solver == refined.solver == "cholesky"
    assert refined.refinement_steps >= 1 and refined.n_passes == 1 + refined.refinement_steps
    assert digits(theta(refined), reference).min() >= 12
    assert digits(theta(refined), reference).min() > digits(theta(plain), reference).min()


@pytest.mark.parametrize("noise", [1e-6, 1e-9])
@pytest.mark.parametrize("kept", [True, False])
def test_a_near_perfect_fit_has_its_residual_sum_of_squares_from_the_residuals(
    monkeypatch, noise, kept
):
    """With R² near 1, C - 2 b'B + b'G b cancels: the RSS (and the summary's standard
    errors) must come from the residuals, polished in memory or read again."""
    if not kept:
        monkeypatch.setattr(driver, "POLISH_MAX_ELEMENTS", 0)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 3))
    y = X @ [1.0, -2.0, 0.5] + 1003.0 + noise * rng.normal(size=80)
    A = np.c_[np.ones(80), X]
    ref = exact_lstsq(A, y)
    rss = sum(
        (Fraction(float(y[i])) - sum(Fraction(float(A[i, j])) * ref[j] for j in range(4))) ** 2
        for i in range(80)
    )
    sol = lstsq(X, y, chunk_rows=32)
    assert sol.solver == "cholesky" and sol.n_passes == (1 if kept else 2)
    assert abs(float(sol.rss[0]) - float(rss)) <= 1e-6 * float(rss)


def test_probe_sends_ill_conditioned_data_straight_to_qr():
    X, y = filip_like(2)
    X, y = np.tile(X, (8, 1)), np.tile(y, 8)  # 656 rows, several chunks
    sol = lstsq(X, y, chunk_rows=100)
    # the rows are few enough to be kept: they are polished in memory, not read again
    assert sol.solver == "qr" and sol.refinement_steps >= 1 and sol.n_passes == 1
    reference = exact_lstsq(np.c_[np.ones(82), X[:82]], y[:82])  # same solution
    assert digits(theta(sol), reference).min() >= 7


def test_streaming_tsqr_warns_when_digits_are_lost():
    X, y = filip_like(0)
    t = TSQRStats.zeros(10).update(torch.from_numpy(X), torch.from_numpy(y))
    with pytest.warns(IllConditionedWarning, match="correct significant digits"):
        sol = t.solve()
    reference = exact_lstsq(np.c_[np.ones(82), X], y)
    assert sol.est_rel_error > 1e-8
    assert digits(theta(sol), reference).min() >= 5  # what plain QR gives here


# ----------------------------------------------------------------------------- agreement


def _data(n=3000, d=6, seed=0, k=None):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) * rng.uniform(0.1, 10, d) + rng.uniform(-50, 50, d)
    beta = rng.normal(size=(d,) if k is None else (d, k))
    y = X @ beta + 2.0 + rng.normal(size=n if k is None else (n, k))
    return X, y


@pytest.mark.parametrize("solver", ["auto", "cholesky", "qr", "svd"])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_matches_sklearn(solver, fit_intercept):
    X, y = _data()
    w = np.random.default_rng(1).uniform(0, 3, len(y))
    ref = SkLinearRegression(fit_intercept=fit_intercept).fit(X, y, sample_weight=w)
    sol = lstsq(X, y, sample_weight=w, fit_intercept=fit_intercept, solver=solver, chunk_rows=500)
    np.testing.assert_allclose(sol.coef[:, 0].numpy(), ref.coef_, rtol=1e-9)
    np.testing.assert_allclose(float(sol.intercept[0]), ref.intercept_, rtol=1e-9, atol=1e-9)
    assert sol.solver == {"auto": "cholesky"}.get(solver, solver)


@pytest.mark.parametrize("solver", ["auto", "cholesky", "qr", "svd"])
def test_ridge_matches_sklearn_ridge(solver):
    X, y = _data()
    w = np.random.default_rng(2).integers(0, 4, len(y)).astype(float)
    ref = Ridge(alpha=250.0, solver="cholesky").fit(X, y, sample_weight=w)
    sol = lstsq(X, y, sample_weight=w, alpha=250.0, solver=solver, chunk_rows=700)
    np.testing.assert_allclose(sol.coef[:, 0].numpy(), ref.coef_, rtol=1e-8)
    np.testing.assert_allclose(float(sol.intercept[0]), ref.intercept_, rtol=1e-8)


@pytest.mark.parametrize("solver", ["auto", "qr"])
def test_integer_weights_equal_row_repetition(solver):
    X, y = _data(n=400)
    w = np.random.default_rng(4).integers(0, 4, 400)
    a = lstsq(X, y, sample_weight=w, solver=solver, chunk_rows=64)
    b = lstsq(np.repeat(X, w, axis=0), np.repeat(y, w), solver=solver, chunk_rows=64)
    np.testing.assert_allclose(a.coef.numpy(), b.coef.numpy(), rtol=1e-10)
    np.testing.assert_allclose(a.intercept.numpy(), b.intercept.numpy(), rtol=1e-10)
    np.testing.assert_allclose(a.rss.numpy(), b.rss.numpy(), rtol=1e-9)
    assert a.weight_sum == b.weight_sum == w.sum()


@pytest.mark.parametrize("solver", ["auto", "qr", "svd", "cholesky"])
def test_independent_of_chunk_size(solver):
    X, y = _data(n=2000)
    sols = [lstsq(X, y, solver=solver, chunk_rows=c) for c in (7, 100, 999, 5000)]
    for s in sols[1:]:
        np.testing.assert_allclose(s.coef.numpy(), sols[0].coef.numpy(), rtol=1e-11)
        np.testing.assert_allclose(s.intercept.numpy(), sols[0].intercept.numpy(), rtol=1e-11)


def test_multi_output_equals_separate_fits():
    X, Y = _data(k=3)
    sol = lstsq(X, Y, alpha=5.0)
    for j in range(3):
        one = lstsq(X, Y[:, j], alpha=5.0)
        np.testing.assert_allclose(sol.coef[:, j].numpy(), one.coef[:, 0].numpy(), rtol=1e-12)
        np.testing.assert_allclose(float(sol.rss[j]), float(one.rss[0]), rtol=1e-10)
    ref = Ridge(alpha=5.0).fit(X, Y)
    np.testing.assert_allclose(sol.coef.numpy().T, ref.coef_, rtol=1e-8)


def test_float32_inputs_accumulate_in_float64():
    X, y = _data(n=1500)
    X32, y32 = X.astype(np.float32), y.astype(np.float32)
    a = lstsq(torch.from_numpy(X32), torch.from_numpy(y32), chunk_rows=256)
    b = lstsq(X32.astype(np.float64), y32.astype(np.float64), chunk_rows=256)
    assert a.coef.dtype == torch.float64
    np.testing.assert_allclose(a.coef.numpy(), b.coef.numpy(), rtol=1e-12)


def test_rss_and_tss_match_direct_computation():
    X, y = _data(n=800)
    for solver in ("cholesky", "qr"):
        sol = lstsq(X, y, solver=solver)
        r = y - X @ sol.coef[:, 0].numpy() - float(sol.intercept[0])
        np.testing.assert_allclose(float(sol.rss[0]), r @ r, rtol=1e-10)
        np.testing.assert_allclose(float(sol.tss[0]), ((y - y.mean()) ** 2).sum(), rtol=1e-12)


# ----------------------------------------------------------------------------- mergeable stats


def test_gram_stats_merge_with_different_shifts():
    X, y = _data(n=900)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    parts = [GramStats.zeros(6).update(Xt[i : i + 300], yt[i : i + 300]) for i in (0, 300, 600)]
    parts[1] = parts[1].reshifted(torch.full((6,), 7.0), torch.tensor([-3.0]))
    merged = parts[2] + (parts[0] + parts[1])
    whole = gram_pass(Xt, yt)
    assert merged.n_samples == 900 and float(merged.weight_sum) == 900
    for fit_intercept in (True, False):
        a = merged.solve(fit_intercept=fit_intercept)
        b = whole.solve(fit_intercept=fit_intercept)
        np.testing.assert_allclose(a.coef.numpy(), b.coef.numpy(), rtol=1e-11)
        np.testing.assert_allclose(a.intercept.numpy(), b.intercept.numpy(), rtol=1e-11, atol=0)
    G, B, _, _ = merged.system(fit_intercept=True)
    Xc = X - X.mean(0)
    np.testing.assert_allclose(G.numpy(), Xc.T @ Xc, rtol=1e-10)
    np.testing.assert_allclose(B[:, 0].numpy(), Xc.T @ (y - y.mean()), rtol=1e-10)


def test_tsqr_merge_matches_single_pass_and_gram():
    X, y = _data(n=900)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    a = TSQRStats.zeros(6).update(Xt[:500], yt[:500])
    b = TSQRStats.zeros(6).update(Xt[500:], yt[500:])
    merged = b + a
    whole = tsqr_pass(Xt, yt)
    for fit_intercept in (True, False):
        s1 = merged.solve(fit_intercept=fit_intercept)
        s2 = whole.solve(fit_intercept=fit_intercept)
        np.testing.assert_allclose(s1.coef.numpy(), s2.coef.numpy(), rtol=1e-11)
    # R^T R is the Gram matrix of [1, x - c, y - c_y]
    R = merged.r.numpy()
    A = np.c_[np.ones(900), X - merged.shift_x.numpy(), y - merged.shift_y.numpy()]
    np.testing.assert_allclose(R.T @ R, A.T @ A, rtol=1e-10, atol=1e-6)
    assert np.all(np.diag(R) >= 0)


def test_gram_to_tsqr_round_trip():
    X, y = _data(n=300)
    g = gram_pass(torch.from_numpy(X), torch.from_numpy(y))
    s1, s2 = g.solve(), g.to_tsqr().solve()
    np.testing.assert_allclose(s1.coef.numpy(), s2.coef.numpy(), rtol=1e-9)


def test_stats_reject_mismatched_chunks():
    g = GramStats.zeros(3)
    with pytest.raises(ValueError, match="expect 3 feature"):
        g.update(torch.zeros(4, 2), torch.zeros(4))
    with pytest.raises(ValueError, match="cannot merge"):
        g + GramStats.zeros(2)
    with pytest.raises(ValueError, match="cannot merge"):
        TSQRStats.zeros(3) + TSQRStats.zeros(3, 2)


# ----------------------------------------------------------------------------- rank deficiency


def _min_norm_reference(X, y):
    Xc, yc = X - X.mean(0), y - y.mean()
    w = np.linalg.pinv(Xc, rcond=1e-10) @ yc
    return w, y.mean() - X.mean(0) @ w


@pytest.mark.parametrize("solver", ["auto", "qr", "svd"])
def test_collinear_columns_min_norm_and_named(solver):
    rng = np.random.default_rng(5)
    X = rng.normal(size=(200, 4))
    X = np.c_[X, X[:, 0] - 2 * X[:, 2], np.full(200, 3.0)]  # x4 = x0 - 2 x2, x5 constant
    y = X[:, :4] @ [1.0, 2.0, 3.0, 4.0] + rng.normal(size=200)
    names = ["a", "b", "c", "d", "e", "const_col"]
    with pytest.warns(RankDeficientWarning) as record:
        sol = lstsq(X, y, solver=solver, feature_names=names)
    message = str(record[0].message)
    assert "rank 4 of 6" in message
    assert "'a'" in message and "'c'" in message and "'e'" in message
    assert "'b'" not in message and "'d'" not in message
    assert "constant" in message and "'const_col'" in message
    assert sol.solver == "svd" and sol.rank == 4
    assert set(sol.collinear) == {0, 2, 4, 5}
    w, b = _min_norm_reference(X, y)
    np.testing.assert_allclose(sol.coef[:, 0].numpy(), w, rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(float(sol.intercept[0]), b, rtol=1e-9)


def test_min_norm_is_in_user_units():
    """Columns of very different scales: still the minimum-norm solution of X itself."""
    rng = np.random.default_rng(6)
    x = rng.normal(size=100)
    X = np.c_[x, 1000.0 * x, rng.normal(size=100)]
    y = 2 * x + X[:, 2]
    with pytest.warns(RankDeficientWarning):
        sol = lstsq(X, y)
    w, b = _min_norm_reference(X, y)
    np.testing.assert_allclose(sol.coef[:, 0].numpy(), w, rtol=1e-9, atol=1e-12)


def test_fewer_rows_than_parameters():
    rng = np.random.default_rng(7)
    X, y = rng.normal(size=(5, 9)), rng.normal(size=5)
    with pytest.warns(RankDeficientWarning, match="5 row.*10 parameters"):
        sol = lstsq(X, y)
    w, b = _min_norm_reference(X, y)
    np.testing.assert_allclose(sol.coef[:, 0].numpy(), w, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(X @ sol.coef[:, 0].numpy() + float(sol.intercept[0]), y)


def test_cholesky_only_statistics_warn_when_singular():
    X, y = filip_like(1)
    g = gram_pass(torch.from_numpy(X), torch.from_numpy(y))
    with pytest.warns(RankDeficientWarning, match="normal equations are numerically singular"):
        sol = g.solve()
    assert sol.solver == "cholesky" and sol.rank < 10


# ----------------------------------------------------------------------------- validation


def test_lstsq_argument_errors():
    X, y = _data(n=20)
    with pytest.raises(ValueError, match="solver must be one of"):
        lstsq(X, y, solver="lu")
    with pytest.raises(ValueError, match="alpha must be"):
        lstsq(X, y, alpha=-1.0)
    with pytest.raises(ValueError, match="sample_weight must be >= 0.*row 3"):
        lstsq(X, y, sample_weight=np.r_[np.ones(3), -1.0, np.ones(16)])
    with pytest.raises(ValueError, match="sums to zero"):
        lstsq(X, y, sample_weight=np.zeros(20))
    with pytest.raises(ValueError, match="y has 19 rows but X has 20"):
        lstsq(X, y[:-1])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_cpu():  # pragma: no cover - runs where a GPU exists
    X, y = _data(n=5000)
    Xg = torch.from_numpy(X).float().cuda()
    yg = torch.from_numpy(y).float().cuda()
    a = lstsq(Xg, yg)
    b = lstsq(Xg.cpu(), yg.cpu())
    np.testing.assert_allclose(a.coef.numpy(), b.coef.numpy(), rtol=1e-10)


def test_update_with_many_rows_and_weights_equals_pass():
    X, y = _data(n=20_000, d=3)
    w = np.random.default_rng(9).uniform(0, 2, 20_000)
    Xt, yt, wt = torch.from_numpy(X), torch.from_numpy(y), torch.from_numpy(w)
    a = GramStats.zeros(3).update(Xt, yt, wt).solve()
    b = TSQRStats.zeros(3).update(Xt, yt, wt).solve()
    ref = SkLinearRegression().fit(X, y, sample_weight=w)
    np.testing.assert_allclose(a.coef[:, 0].numpy(), ref.coef_, rtol=1e-10)
    np.testing.assert_allclose(b.coef[:, 0].numpy(), ref.coef_, rtol=1e-10)


def test_zero_weight_first_chunk_and_zero_weight_rows_are_ignored():
    X, y = _data(n=3000)
    w = np.ones(3000)
    w[:1500] = 0.0
    Xb = X.copy()
    Xb[:1500] *= 1e3  # garbage rows, weight zero
    for solver in ("auto", "qr", "cholesky"):
        sol = lstsq(Xb, y, sample_weight=w, solver=solver, chunk_rows=500)
        ref = lstsq(X[1500:], y[1500:], solver=solver, chunk_rows=500)
        np.testing.assert_allclose(sol.coef.numpy(), ref.coef.numpy(), rtol=1e-9)


def test_multi_output_ill_conditioned_each_target_accurate():
    X, y = filip_like(4)
    Y = np.c_[y, 2.0 - y]
    sol = lstsq(X, Y)
    A = np.c_[np.ones(82), X]
    for j in range(2):
        reference = exact_lstsq(A, Y[:, j])
        got = np.r_[sol.intercept.numpy()[j], sol.coef[:, j].numpy()]
        assert digits(got, reference).min() >= 7


def test_thread_settings_restored_after_concurrent_fits():
    from concurrent.futures import ThreadPoolExecutor

    from threadpoolctl import threadpool_info, threadpool_limits

    X, y = _data(n=30_000)
    previous = torch.get_num_threads()
    torch.set_num_threads(3)  # not 1 (as under the suite's workers), so a cap would show
    try:
        with threadpool_limits(limits=3, user_api="blas"):
            before_blas = [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]
            with ThreadPoolExecutor(4) as ex:
                solvers = ["auto", "qr", "auto", "qr"]
                sols = list(ex.map(lambda s: lstsq(X, y, solver=s), solvers))
            assert torch.get_num_threads() == 3
            blas = [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]
            assert blas == before_blas
    finally:
        torch.set_num_threads(previous)
    np.testing.assert_allclose(sols[0].coef.numpy(), sols[1].coef.numpy(), rtol=1e-10)


@pytest.mark.parametrize("solver", ["auto", "qr", "cholesky"])
def test_torch_kernels_used_on_accelerators_agree(monkeypatch, solver):
    """The torch code path (what runs on CUDA/MPS) gives the NumPy path's answer."""
    X, y = _data(n=3000)
    w = np.random.default_rng(10).uniform(0, 2, 3000)
    X32 = torch.from_numpy(X).float()
    expected = lstsq(X32, y, sample_weight=w, solver=solver, chunk_rows=256)
    monkeypatch.setattr(exact.stats, "use_numpy", lambda *tensors: False)
    got = lstsq(X32, y, sample_weight=w, solver=solver, chunk_rows=256)
    np.testing.assert_allclose(got.coef.numpy(), expected.coef.numpy(), rtol=1e-10)
    np.testing.assert_allclose(got.intercept.numpy(), expected.intercept.numpy(), rtol=1e-10)


@pytest.mark.parametrize(("n", "solver"), [(50, "auto"), (50, "qr"), (3, "auto")])
def test_values_whose_squares_underflow_are_refused_not_taken_for_constant(n, solver):
    # sklearn fits these (its SVD never squares them); the normal equations and the
    # constant-column test would see zeros, so the columns are named instead
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, 4)) * [1.0, 1e-200, 1.0, 1e-170]
    y = X @ [1.0, 1e200, 2.0, 1e170] + 1.0
    names = ["a", "tiny", "b", "small"]
    message = r"the squares of the values of 'tiny', 'small' underflow float64 .*; rescale X"
    with pytest.raises(ValueError, match=message):
        lstsq(X, y, solver=solver, feature_names=names)


@pytest.mark.parametrize("scale", [1e-156, 1e-158, 1e-160, 1e-162])
@pytest.mark.parametrize("solver", ["auto", "qr"])
def test_values_whose_squares_are_subnormal_are_refused(scale, solver):
    # squares below float64's normal range keep fewer digits the smaller they are: at
    # 1e-158 the Gram matrix already loses 8 digits of the coefficients, with cond ~1
    rng = np.random.default_rng(0)
    Z = rng.normal(size=(50, 3))
    y = rng.normal(size=50)
    with pytest.raises(ValueError, match=r"'x0', 'x1', 'x2' underflow float64 .*; rescale X"):
        lstsq(Z * scale, y, solver=solver, feature_names=["x0", "x1", "x2"])
    sol = lstsq(Z * 1e-150, y, solver=solver)  # squares still normal: full accuracy
    ref = np.linalg.lstsq(np.c_[np.ones(50), Z], y, rcond=None)[0]
    np.testing.assert_allclose(sol.coef[:, 0].numpy() * 1e-150, ref[1:], rtol=1e-13)
    np.testing.assert_allclose(float(sol.intercept[0]), ref[0], rtol=1e-13)


def test_a_column_of_zeros_is_still_constant():
    rng = np.random.default_rng(1)
    X = np.c_[rng.normal(size=40), np.zeros(40)]
    with pytest.warns(exact.RankDeficientWarning, match="constant .*: x1"):
        sol = lstsq(X, 2 * X[:, 0] + 1)
    assert float(sol.coef[1, 0]) == 0.0
