"""LinearRegression: scikit-learn conformance, inputs, streaming, ridge, weights, bad input."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest
import torch
from sklearn.linear_model import LinearRegression as SkLinearRegression
from sklearn.linear_model import Ridge
from sklearn.utils.estimator_checks import parametrize_with_checks

from torchlinear import LinearRegression
from torchlinear.exact import RankDeficientWarning


@parametrize_with_checks([LinearRegression()])
def test_sklearn_compatible(estimator, check):
    with warnings.catch_warnings():
        # scikit-learn's checks use tiny or degenerate designs on purpose
        warnings.simplefilter("ignore", RankDeficientWarning)
        check(estimator)


def _data(n=500, d=5, seed=0, k=None):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) * rng.uniform(0.5, 5, d) + rng.uniform(-10, 10, d)
    beta = rng.normal(size=(d,) if k is None else (d, k))
    y = X @ beta + 1.5 + 0.1 * rng.normal(size=n if k is None else (n, k))
    return X, y


# ----------------------------------------------------------------------------- agreement


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_matches_sklearn_linear_regression(fit_intercept):
    X, y = _data()
    ours = LinearRegression(fit_intercept=fit_intercept).fit(X, y)
    ref = SkLinearRegression(fit_intercept=fit_intercept).fit(X, y)
    np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=1e-10)
    np.testing.assert_allclose(ours.intercept_, ref.intercept_, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ours.predict(X), ref.predict(X), rtol=1e-10)
    assert ours.score(X, y) == pytest.approx(ref.score(X, y), rel=1e-12)
    assert isinstance(ours.intercept_, float) and ours.coef_.shape == (5,)
    assert ours.solver_ == "cholesky" and ours.cond_ >= 1 and ours.rank_ == 5


@pytest.mark.parametrize("solver", ["auto", "cholesky", "qr", "svd"])
def test_ridge_matches_sklearn(solver):
    X, y = _data(n=300, d=8)
    w = np.random.default_rng(3).uniform(0.2, 2.0, 300)
    ours = LinearRegression(alpha=30.0, solver=solver).fit(X, y, sample_weight=w)
    ref = Ridge(alpha=30.0).fit(X, y, sample_weight=w)
    np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=1e-8)
    np.testing.assert_allclose(ours.intercept_, ref.intercept_, rtol=1e-8)


def test_integer_weights_equal_row_repetition():
    X, y = _data(n=200)
    w = np.random.default_rng(4).integers(0, 5, 200)
    a = LinearRegression().fit(X, y, sample_weight=w)
    b = LinearRegression().fit(np.repeat(X, w, axis=0), np.repeat(y, w))
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=1e-10)
    np.testing.assert_allclose(a.intercept_, b.intercept_, rtol=1e-10)
    sa, sb = a.summary(weights="frequency"), b.summary()  # weights as counts of rows
    np.testing.assert_allclose(sa.std_err, sb.std_err, rtol=1e-9)


def test_multi_output():
    X, Y = _data(k=3)
    ours = LinearRegression(alpha=2.0).fit(X, Y)
    ref = Ridge(alpha=2.0).fit(X, Y)
    assert ours.coef_.shape == (3, 5) and ours.intercept_.shape == (3,)
    np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=1e-9)
    np.testing.assert_allclose(ours.intercept_, ref.intercept_, rtol=1e-9)
    assert ours.predict(X).shape == (500, 3)
    assert ours.score(X, Y) == pytest.approx(ref.score(X, Y), rel=1e-12)
    # (n, 1) is one target: same shapes as (n,)
    one = LinearRegression().fit(X, Y[:, :1])
    assert one.coef_.shape == (5,) and one.predict(X).shape == (500,)


# ----------------------------------------------------------------------------- streaming


@pytest.mark.parametrize("solver", ["auto", "qr", "svd", "cholesky"])
def test_partial_fit_equals_fit(solver):
    X, y = _data(n=1000)
    w = np.random.default_rng(5).uniform(0, 2, 1000)
    stream = LinearRegression(solver=solver)
    for start in range(0, 1000, 137):
        stream.partial_fit(X[start : start + 137], y[start : start + 137], w[start : start + 137])
        assert stream.coef_.shape == (5,)  # usable after every call
    whole = LinearRegression(solver=solver).fit(X, y, sample_weight=w)
    np.testing.assert_allclose(stream.coef_, whole.coef_, rtol=1e-10)
    np.testing.assert_allclose(stream.intercept_, whole.intercept_, rtol=1e-10)
    np.testing.assert_allclose(stream.predict(X), whole.predict(X), rtol=1e-10)
    expected = {"auto": "qr", "qr": "qr", "svd": "svd", "cholesky": "cholesky"}[solver]
    assert stream.solver_ == expected
    s1, s2 = stream.summary(), whole.summary()
    np.testing.assert_allclose(s1.std_err, s2.std_err, rtol=1e-9)


def test_partial_fit_checks_shapes_and_fit_restarts():
    X, y = _data(n=100)
    m = LinearRegression().partial_fit(X[:50], y[:50])
    with pytest.raises(ValueError, match="expecting 5 features"):
        m.partial_fit(X[50:, :4], y[50:])
    with pytest.raises(ValueError, match="earlier partial_fit calls had 1"):
        m.partial_fit(X[50:], np.c_[y[50:], y[50:]])
    m.fit(X[50:], y[50:])
    m.partial_fit(X[:50], y[:50])  # starts over after fit
    ref = LinearRegression().fit(X[:50], y[:50])
    np.testing.assert_allclose(m.coef_, ref.coef_, rtol=1e-10)


def test_chunk_size_does_not_change_the_result():
    X, y = _data(n=900)
    fits = [LinearRegression(chunk_size=c).fit(X, y).coef_ for c in (10, 128, 1000)]
    for c in fits[1:]:
        np.testing.assert_allclose(c, fits[0], rtol=1e-11)


# ----------------------------------------------------------------------------- inputs


def test_dataframe_names_and_summary():
    pd = pytest.importorskip("pandas")
    X, y = _data(n=120, d=3)
    df = pd.DataFrame(X, columns=["age", "bmi", "bp"])
    model = LinearRegression().fit(df, pd.Series(y, name="progression"))
    assert list(model.feature_names_in_) == ["age", "bmi", "bp"]
    s = model.summary()
    assert s.terms == ("const", "age", "bmi", "bp") and s.target == "progression"
    assert "bmi" in str(s)
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        model.predict(X)
    with pytest.raises(ValueError, match="feature names should match"):
        model.predict(df.rename(columns={"bp": "pressure"}))


def test_collinear_dataframe_columns_are_named():
    pd = pytest.importorskip("pandas")
    X, y = _data(n=80, d=3)
    df = pd.DataFrame(X, columns=["a", "b", "c"])
    df["a_plus_b"] = df["a"] + df["b"]
    with pytest.warns(RankDeficientWarning, match="'a', 'b'.*'a_plus_b'"):
        model = LinearRegression().fit(df, y)
    assert model.solver_ == "svd" and model.rank_ == 3
    w = np.linalg.pinv(df.to_numpy() - df.to_numpy().mean(0)) @ (y - y.mean())
    np.testing.assert_allclose(model.coef_, w, rtol=1e-9)


def test_torch_inputs_and_outputs():
    X, y = _data(n=400)
    ref = LinearRegression().fit(X, y)
    X32 = torch.tensor(X, dtype=torch.float32)
    m = LinearRegression().fit(X32, torch.tensor(y, dtype=torch.float32))
    pred = m.predict(X32)
    assert isinstance(pred, torch.Tensor) and pred.dtype == torch.float32
    assert isinstance(m.predict(X32.double()), torch.Tensor)
    exact32 = LinearRegression().fit(X32.double().numpy(), np.float32(y).astype(float))
    np.testing.assert_allclose(m.coef_, exact32.coef_, rtol=1e-12)  # float64 statistics
    np.testing.assert_allclose(m.coef_, ref.coef_, rtol=1e-4)
    assert isinstance(ref.predict(X), np.ndarray)
    assert LinearRegression(device="cpu").fit(X32, y).score(X32, y) > 0.99


# ----------------------------------------------------------------------------- gradient path


def test_gradient_solvers_minimise_the_same_objective():
    X, y = _data(n=300, d=3)
    exact = LinearRegression(alpha=50.0).fit(X, y)
    lbfgs = LinearRegression(alpha=50.0, solver="lbfgs", random_state=0).fit(X, y)
    assert lbfgs.solver_ == "lbfgs" and np.isnan(lbfgs.cond_) and lbfgs.n_iter_ >= 1

    def objective(m):
        r = y - X @ m.coef_ - m.intercept_
        return r @ r + 50.0 * m.coef_ @ m.coef_

    # the exact minimiser is no worse, and the trained one is as good to 1e-8
    assert objective(exact) <= objective(lbfgs) * (1 + 1e-12)
    assert objective(lbfgs) <= objective(exact) * (1 + 1e-8)
    np.testing.assert_allclose(lbfgs.coef_, exact.coef_, rtol=1e-4, atol=1e-6)
    with pytest.raises(ValueError, match="needs an exact least-squares fit"):
        lbfgs.summary()


def test_huber_loss_goes_to_the_gradient_path():
    X, y = _data(n=300, d=3)
    y = y.copy()
    y[:10] += 100.0  # outliers
    robust = LinearRegression(loss="huber", delta=0.5, random_state=0).fit(X, y)
    assert robust.solver_ == "lbfgs"
    clean = LinearRegression().fit(X[10:], y[10:])
    np.testing.assert_allclose(robust.coef_, clean.coef_, rtol=0.05)


# ----------------------------------------------------------------------------- bad input


def test_nan_and_inf_are_counted_and_located():
    X, y = _data(n=50)
    Xb = X.copy()
    Xb[7, 2] = np.nan
    Xb[9, 0] = np.inf
    with pytest.raises(
        ValueError,
        match=r"X has 2 NaN/inf value\(s\); the first is at row 7, "
        r"column 2",
    ):
        LinearRegression().fit(Xb, y)
    yb = y.copy()
    yb[[3, 4, 5]] = np.nan
    with pytest.raises(ValueError, match=r"y has 3 NaN/inf value\(s\); the first is at row 3"):
        LinearRegression().fit(X, yb)


@pytest.mark.parametrize(
    ("X", "match"),
    [
        (np.zeros((0, 3)), "0 rows|0 sample"),
        (np.zeros((5, 0)), "0 feature"),
        (np.zeros((4, 3, 2)), "must be 2-D"),
        (np.zeros(6), "Reshape your data"),
    ],
)
def test_bad_shapes(X, match):
    with pytest.raises(ValueError, match=match):
        LinearRegression().fit(X, np.zeros(len(X)))


def test_non_numeric_columns_are_named():
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame(
        {
            "x": [1.0, 2.0, 3.0],
            "city": ["a", "b", "c"],
            "ok": [1, 2, 3],
            "when": pd.to_datetime(["2020", "2021", "2022"]),
        }
    )
    with pytest.raises(ValueError, match="'city', 'when'"):
        LinearRegression().fit(df, [1.0, 2.0, 3.0])


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"alpha": -1.0}, "alpha must be"),
        ({"solver": "lu"}, "solver must be one of"),
        ({"loss": "hinge"}, "loss must be one of"),
        ({"l1_ratio": 1.5}, "l1_ratio must lie in"),
        ({"solver": "qr", "loss": "huber"}, "squared loss with an L2 penalty only"),
        ({"solver": "cholesky", "alpha": 1.0, "l1_ratio": 0.5}, "L2 penalty only"),
        ({"solver": "lbfgs", "alpha": 1.0, "l1_ratio": 0.5}, "cannot handle an L1"),
        ({"chunk_size": 0}, "chunk_size must be a positive integer"),
    ],
)
def test_bad_parameters(params, match):
    X, y = _data(n=20)
    with pytest.raises(ValueError, match=match):
        LinearRegression(**params).fit(X, y)


def test_bad_targets_and_weights():
    X, y = _data(n=20)
    with pytest.raises(ValueError, match="y has 19 rows but X has 20"):
        LinearRegression().fit(X, y[:-1])
    with pytest.raises(ValueError, match=r"y must have shape"):
        LinearRegression().fit(X, np.zeros((20, 2, 2)))
    with pytest.raises(ValueError, match="requires y to be passed"):
        LinearRegression().fit(X, None)
    with pytest.raises(ValueError, match="sample_weight must be >= 0.*row 2"):
        LinearRegression().fit(X, y, sample_weight=np.r_[1.0, 1.0, -1.0, np.ones(17)])
    with pytest.raises(ValueError, match=r"sample_weight must have shape \(20,\)"):
        LinearRegression().fit(X, y, sample_weight=np.ones(5))
    with pytest.raises(ValueError, match="partial_fit streams the exact solvers only"):
        LinearRegression(loss="huber").partial_fit(X, y)


def test_fewer_rows_than_parameters_gives_min_norm_with_warning():
    rng = np.random.default_rng(8)
    X, y = rng.normal(size=(4, 10)), rng.normal(size=4)
    with pytest.warns(RankDeficientWarning, match="4 row.*11 parameters"):
        m = LinearRegression().fit(X, y)
    w = np.linalg.pinv(X - X.mean(0)) @ (y - y.mean())
    np.testing.assert_allclose(m.coef_, w, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(m.predict(X), y, rtol=1e-9)
    assert LinearRegression(alpha=1.0).fit(X, y).rank_ == 10  # ridge: unique, no warning


@pytest.mark.parametrize("l1_ratio", [1.0, 0.5])
def test_l1_penalty_is_the_exact_elastic_net(l1_ratio):
    """alpha on the sum of squares = scikit-learn's ElasticNet(alpha / sum(w))."""
    from sklearn.datasets import load_diabetes
    from sklearn.linear_model import ElasticNet

    X, y = load_diabetes(return_X_y=True)
    w = np.random.default_rng(1).uniform(0.5, 2.0, len(y))
    model = LinearRegression(alpha=30.0, l1_ratio=l1_ratio).fit(X, y, sample_weight=w)
    reference = ElasticNet(alpha=30.0 / w.sum(), l1_ratio=l1_ratio, tol=1e-12, max_iter=100_000)
    reference.fit(X, y, sample_weight=w)
    assert model.solver_ == "cd" and model.converged_
    np.testing.assert_allclose(model.coef_, reference.coef_, rtol=1e-6, atol=1e-9)
    np.testing.assert_array_equal(model.coef_ == 0, reference.coef_ == 0)
    assert model.intercept_ == pytest.approx(reference.intercept_, rel=1e-9)


def test_absolute_loss_reaches_the_linear_programs_optimum():
    from scipy.optimize import linprog
    from sklearn.datasets import load_diabetes

    X, y = load_diabetes(return_X_y=True)
    model = LinearRegression(loss="l1").fit(X, y)
    n, d = X.shape
    # min sum(u + v) s.t. X w + b + u - v = y, u, v >= 0: least absolute deviations as an LP
    c = np.r_[np.zeros(2 * d + 2), np.ones(2 * n)]
    A = np.c_[X, -X, np.ones(n), -np.ones(n), np.eye(n), -np.eye(n)]
    lp = linprog(c, A_eq=A, b_eq=y, bounds=(0, None), method="highs")
    objective = np.abs(y - X @ model.coef_ - model.intercept_).sum()
    assert model.solver_ == "lad"
    assert objective == pytest.approx(lp.fun, rel=1e-8)
    assert model.score(X, y) > 0.5


# ----------------------------------------------------------------- scikit-learn's parameters


def _nnls_problem(seed=1, n=300, d=10):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    X[:, 1] += 0.9 * X[:, 0]
    return X, X @ rng.normal(size=d) + rng.normal(size=n) + 2.0


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_positive_is_non_negative_least_squares(fit_intercept):
    from scipy.optimize import nnls

    X, y = _nnls_problem()
    model = LinearRegression(positive=True, fit_intercept=fit_intercept).fit(X, y)
    sk = SkLinearRegression(positive=True, fit_intercept=fit_intercept).fit(X, y)
    if fit_intercept:
        ref, _ = nnls(X - X.mean(0), y - y.mean())
    else:
        ref, _ = nnls(X, y)
    assert model.solver_ == "cd" and model.converged_
    assert (model.coef_ >= 0).all() and (model.coef_ == 0).any()
    np.testing.assert_allclose(model.coef_, ref, rtol=1e-6, atol=1e-10)
    np.testing.assert_allclose(model.coef_, sk.coef_, rtol=1e-6, atol=1e-10)
    assert model.intercept_ == pytest.approx(sk.intercept_, rel=1e-6, abs=1e-10)


def _offset_columns(seed, n=188, d=16):
    """Columns 1e4 plus noise of spread 1 or 1e-3: nearly collinear without an intercept;
    coordinate descent stalled there on the wrong support while reporting convergence."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) * rng.choice([1e-3, 1.0], size=d) + 1e4
    return X, X @ rng.normal(size=d) + rng.normal(size=n)


@pytest.mark.parametrize(
    ("params", "weighted"),
    [
        ({"fit_intercept": False}, False),
        ({"fit_intercept": False}, True),
        ({"fit_intercept": True}, True),
        ({"fit_intercept": False, "alpha": 50.0}, True),  # ridge, on the sum of squares
        ({"fit_intercept": True, "alpha": 5.0, "l1_ratio": 1.0}, False),
        ({"fit_intercept": False, "alpha": 20.0, "l1_ratio": 0.5}, True),
    ],
)
def test_positive_reaches_the_exact_optimum(params, weighted, nonnegative_reference):
    X, y = _offset_columns(0)
    w = np.random.default_rng(1).uniform(0.1, 3.0, len(y)) if weighted else None
    alpha, ratio = params.get("alpha", 0.0), params.get("l1_ratio", 0.0)
    model = LinearRegression(positive=True, **params).fit(X, y, sample_weight=w)
    ref, ref_b, objective = nonnegative_reference(
        X, y, w=w, fit_intercept=params["fit_intercept"], l1=alpha * ratio,
        l2=alpha * (1 - ratio),
    )  # fmt: skip
    coef, b = np.ravel(model.coef_), float(np.ravel(model.intercept_)[0])
    assert model.converged_ and (coef >= 0).all()
    assert objective(coef, b) <= objective(ref, ref_b) * (1 + 1e-10)
    np.testing.assert_array_equal(coef > 0, ref > 0)
    assert 0 <= model.dual_gap_ <= 1e-12 * np.average(y * y, weights=w)


def test_positive_with_duplicated_and_rescaled_columns(nonnegative_reference):
    X, y = _nnls_problem(seed=4)
    X = np.c_[X, X[:, 0], 3.0 * X[:, 2]]
    model = LinearRegression(positive=True).fit(X, y)
    ref, ref_b, objective = nonnegative_reference(X, y)
    coef = np.ravel(model.coef_)
    assert model.converged_ and np.isfinite(coef).all()
    assert objective(coef, model.intercept_) == pytest.approx(objective(ref, ref_b), rel=1e-10)
    # the prediction is unique even where the coefficients are not
    np.testing.assert_allclose(model.predict(X), X @ ref + ref_b, rtol=1e-8)


def test_positive_through_the_chunk_protocol_equals_fit():
    X, y = _nnls_problem(seed=2)
    whole = LinearRegression(positive=True).fit(X, y)
    parts = np.array_split(np.arange(len(X)), 4)
    chunked = LinearRegression(positive=True).fit_chunks(
        lambda: [(X[p], y[p]) for p in parts], n_features=X.shape[1]
    )
    np.testing.assert_allclose(chunked.coef_, whole.coef_, rtol=1e-10, atol=1e-13)


def test_positive_refuses_what_it_cannot_solve():
    X, y = _nnls_problem()
    with pytest.raises(ValueError, match="positive=True constrains least squares"):
        LinearRegression(positive=True, loss="l1").fit(X, y)
    with pytest.raises(ValueError, match="solver='auto' or 'cd'"):
        LinearRegression(positive=True, solver="cholesky").fit(X, y)


def test_copy_x_and_n_jobs_are_accepted_and_change_nothing():
    X, y = _nnls_problem()
    before = X.copy()
    a = LinearRegression(copy_X=False, n_jobs=2).fit(X, y)
    b = LinearRegression().fit(X, y)
    np.testing.assert_array_equal(a.coef_, b.coef_)
    np.testing.assert_array_equal(X, before)  # X is never modified
    assert {"copy_X", "n_jobs", "positive", "tol"} <= set(LinearRegression().get_params())


@pytest.mark.parametrize("fmt", ["csr", "csc", "coo"])
@pytest.mark.parametrize("container", ["array", "matrix"])
@pytest.mark.parametrize(
    "params", [{}, {"alpha": 3.0}, {"alpha": 30.0, "l1_ratio": 0.5}, {"positive": True}]
)
def test_sparse_x_equals_dense(fmt, container, params):
    import scipy.sparse as sp

    rng = np.random.default_rng(0)
    dense = sp.random(400, 8, density=0.3, random_state=0).toarray()
    y = dense @ np.arange(8.0) - 2.0 + rng.normal(size=400)
    maker = sp.csr_array if container == "array" else sp.csr_matrix
    X = maker(dense).asformat(fmt)
    sparse_fit = LinearRegression(**params).fit(X, y)
    dense_fit = LinearRegression(**params).fit(dense, y)
    np.testing.assert_allclose(sparse_fit.coef_, dense_fit.coef_, rtol=1e-9, atol=1e-12)
    assert sparse_fit.intercept_ == pytest.approx(dense_fit.intercept_, rel=1e-9)
    np.testing.assert_allclose(sparse_fit.predict(X), dense_fit.predict(dense), rtol=1e-9)
    assert sparse_fit.score(X, y) == pytest.approx(dense_fit.score(dense, y), rel=1e-9)
    if not params:  # and the exact answer: scikit-learn's least squares on the dense data
        ref = SkLinearRegression().fit(dense, y)
        np.testing.assert_allclose(sparse_fit.coef_, ref.coef_, rtol=1e-9)


def test_sparse_x_is_refused_by_the_gradient_solvers():
    import scipy.sparse as sp

    X = sp.random(50, 3, density=0.5, random_state=0, format="csr")
    with pytest.raises(TypeError, match="toarray"):
        LinearRegression(solver="adam").fit(X, np.arange(50.0))


def test_partial_fit_in_many_chunks_is_exact_however_it_is_read_back():
    # A feature without effect: its coefficient needs the in-memory polish. partial_fit
    # leaves the polish to the first read, so that 200 calls do not polish 200 times;
    # reading the coefficients, predicting, pickling and saving all see the polished fit.
    rng = np.random.default_rng(0)
    X = rng.normal(size=(4_000, 6))
    y = X @ [0.0, 1.0, -2.0, 0.5, 3.0, 1.5] + 0.1 * rng.normal(size=4_000)
    full = LinearRegression().fit(X, y)
    expected = np.r_[full.intercept_, full.coef_]

    def chunked() -> LinearRegression:
        model = LinearRegression()
        for rows in np.array_split(np.arange(4_000), 200):
            model.partial_fit(X[rows], y[rows])
        return model

    np.testing.assert_array_equal(np.r_[chunked().intercept_, chunked().coef_], expected)
    np.testing.assert_array_equal(chunked().predict(X[:50]), full.predict(X[:50]))
    restored = pickle.loads(pickle.dumps(chunked()))
    np.testing.assert_array_equal(np.r_[restored.intercept_, restored.coef_], expected)
    again = LinearRegression.from_state(*chunked().get_state())
    np.testing.assert_array_equal(np.r_[again.intercept_, again.coef_], expected)
    assert chunked().solution_.refinement_steps >= 1


@pytest.mark.parametrize("kind", ["dense", "sparse", "partial_fit_cholesky", "partial_fit"])
def test_a_near_perfect_fit_has_the_standard_errors_of_statsmodels(kind):
    """R² near 1: the residual sum of squares (and every standard error, interval and
    test built on it) comes from the residuals, whichever way the model was fitted."""
    sm = pytest.importorskip("statsmodels.api")
    import scipy.sparse as sp

    rng = np.random.default_rng(0)
    X = rng.normal(size=(100, 3))
    y = X @ [1.0, -2.0, 0.5] + 1003.0 + 1e-8 * rng.normal(size=100)
    if kind == "sparse":
        model = LinearRegression().fit(sp.csr_array(X), y)
    elif kind.startswith("partial_fit"):
        solver = "cholesky" if kind.endswith("cholesky") else "auto"
        model = LinearRegression(solver=solver)
        for rows in np.array_split(np.arange(100), 4):
            model.partial_fit(X[rows], y[rows])
    else:
        model = LinearRegression().fit(X, y)
    res = sm.OLS(y, sm.add_constant(X)).fit()
    summary = model.summary()
    np.testing.assert_allclose(summary.rss, res.ssr, rtol=1e-5)
    np.testing.assert_allclose(summary.std_err, res.bse, rtol=1e-5)


def _noisy_problem(n=2000, d=30, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    return X, X @ rng.normal(size=d) + 1 + rng.normal(size=n)


def _excess_mse(model, X, y):
    best = np.mean((y - SkLinearRegression().fit(X, y).predict(X)) ** 2)
    return (np.mean((y - model.predict(X)) ** 2) - best) / best


@pytest.mark.parametrize(("solver", "n", "d"), [("sgd", 2000, 30), ("adam", 1000, 20)])
def test_a_minibatch_fit_that_says_converged_is_at_the_least_squares_optimum(solver, n, d):
    # at a fixed rate, 32 rows a batch stall 5% (SGD) or 0.14% (Adam) above the optimum
    X, y = _noisy_problem(n, d)
    model = LinearRegression(solver=solver, batch_size=32, lr=0.01, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.fit(X, y)
    assert model.converged_ and _excess_mse(model, X, y) < 1e-3
    assert len(model.history_.lr_drops) == 3 and min(model.history_.lr) == pytest.approx(1e-5)


def test_a_minibatch_fit_cut_short_between_drops_of_the_rate_warns():
    from sklearn.exceptions import ConvergenceWarning

    X, y = _noisy_problem()
    model = LinearRegression(solver="sgd", batch_size=32, max_iter=12, random_state=0)
    with pytest.warns(ConvergenceWarning) as caught:
        model.fit(X, y)
    text = str(caught[0].message)
    assert text.startswith("sgd did not converge in 12 epochs: the training loss stalled at ")
    assert "learning rate was divided by 10 after epoch(s) 7, but the epochs ran out" in text
    assert text.endswith("; increase max_iter")
    assert not model.converged_ and model.history_.lr_drops == [7]


@pytest.mark.parametrize("solver", ["lbfgs", "adam"])
@pytest.mark.parametrize("offset", [1e3, 1e6])
def test_penalised_gradient_fits_of_features_with_large_means_reach_the_ridge(solver, offset):
    # with a penalty the features were not even centred: a feature of mean 1e6 left
    # L-BFGS at coefficients ~0 with converged_=True (objective 14x the minimum)
    rng = np.random.default_rng(7)
    X = rng.normal(size=(300, 2)) + [offset, 5.0]
    y = X @ [2.0, 3.0] - 2 * offset + rng.normal(size=300)
    ref = Ridge(alpha=1.0, solver="cholesky").fit(X, y)
    kw = {"max_iter": 3000, "lr": 0.05} if solver == "adam" else {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = LinearRegression(solver=solver, alpha=1.0, random_state=0, **kw).fit(X, y)

    def objective(coef, intercept):
        r = y - X @ coef - intercept
        return r @ r + coef @ coef

    best = objective(ref.coef_, ref.intercept_)
    assert objective(est.coef_, est.intercept_) <= best * (
        1 + (1e-9 if solver == "lbfgs" else 1e-3)
    )
    if solver == "lbfgs":
        assert est.converged_
        np.testing.assert_allclose(est.coef_, ref.coef_, rtol=1e-6)
