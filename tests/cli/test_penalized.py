"""`torchlinear fit --alpha/--l1-ratio`: scikit-learn's ElasticNet convention, exact solves,
and `--alpha cv` from one pass of fold statistics, checked against scikit-learn."""

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import ElasticNet as SkElasticNet
from sklearn.linear_model import ElasticNetCV as SkElasticNetCV
from sklearn.linear_model import Ridge
from sklearn.model_selection import KFold

from torchlinear import workflow
from torchlinear.exact.fold_stats import HashedKFold
from torchlinear.workflow import load_estimator


def fit(*args, **kwargs):
    """``workflow.fit`` without the report's figures: these tests compare numbers."""
    return workflow.fit(*args, figures=False, **kwargs)


pytestmark = [
    pytest.mark.usefixtures("one_thread"),
    pytest.mark.filterwarnings("ignore:X does not have valid feature names"),
]

TIGHT = dict(tol=1e-12, max_iter=100_000)


def _problem(n=300, d=6, seed=0, spread=1.0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) * np.linspace(1.0, spread, d) + 3.0
    X[:, 1] += 0.8 * X[:, 0]  # correlated columns: a real path
    y = X @ np.r_[1.5, 0.0, -2.0, 0.0, 0.7, np.zeros(d - 5)] + rng.normal(size=n)
    return X, y


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    X, y = _problem()
    folder = tmp_path_factory.mktemp("penalized")
    frame = pd.DataFrame(X, columns=[f"x{j}" for j in range(X.shape[1])])
    frame["y"] = y
    frame.to_csv(folder / "d.csv", index=False, float_format="%.17g")
    frame.to_parquet(folder / "d.parquet", row_group_size=37)
    return folder, X, y


@pytest.mark.parametrize("ext", ["csv", "parquet"])
@pytest.mark.parametrize("l1_ratio", [0.5, 1.0])
def test_alpha_and_l1_ratio_mean_elastic_nets(files, tmp_path, ext, l1_ratio):
    folder, X, y = files
    result = fit(folder / f"d.{ext}", "y", alpha=0.05, l1_ratio=l1_ratio, val_split=0,
                 batch_rows=23, out=tmp_path / "run")  # fmt: skip
    ref = SkElasticNet(alpha=0.05, l1_ratio=l1_ratio, **TIGHT).fit(X, y)
    est = result.estimator
    assert result.solver == "cd" and type(est).__name__ == "ElasticNet"
    np.testing.assert_allclose(est.coef_, ref.coef_, rtol=1e-7, atol=1e-9)
    assert est.intercept_ == pytest.approx(ref.intercept_, rel=1e-8)
    np.testing.assert_array_equal(est.coef_ == 0, ref.coef_ == 0)
    assert result.convergence.startswith("converged (coordinate descent: duality gap")
    assert result.metrics["train"]["r2"] == pytest.approx(ref.score(X, y), rel=1e-10)
    # the model file predicts what scikit-learn predicts
    loaded = load_estimator(tmp_path / "run")
    np.testing.assert_allclose(loaded.predict(X[:5]), ref.predict(X[:5]), rtol=1e-8)


def test_ridge_only_stays_exact_with_elastic_nets_alpha(files, tmp_path):
    folder, X, y = files
    result = fit(folder / "d.csv", "y", alpha=0.3, val_split=0, batch_rows=50,
                 out=tmp_path / "run")  # fmt: skip
    est = result.estimator
    assert result.solver == "cholesky"  # the exact driver, one pass
    # ElasticNet(alpha, l1_ratio=0) is Ridge(alpha * n) on the sum of squares
    ridge = Ridge(alpha=0.3 * len(X), solver="cholesky").fit(X, y)
    np.testing.assert_allclose(est.coef_, ridge.coef_, rtol=1e-10)
    enet = SkElasticNet(alpha=0.3, l1_ratio=0.0, **TIGHT).fit(X, y)
    np.testing.assert_allclose(est.coef_, enet.coef_, rtol=1e-6)
    assert est.alpha == pytest.approx(0.3 * len(X), rel=1e-14)  # the model as fitted
    assert result.convergence is None  # closed form: nothing to converge


def test_streamed_gradient_solver_keeps_the_same_objective(files, tmp_path):
    """--solver sgd/adam minimise the same objective (alpha per row): compare objectives."""
    folder, X, y = files
    result = fit(folder / "d.csv", "y", alpha=0.5, l1_ratio=0.5, solver="adam", lr=0.1,
                 epochs=400, batch_size=300, val_split=0, out=tmp_path / "run")  # fmt: skip
    ref = SkElasticNet(alpha=0.5, l1_ratio=0.5, **TIGHT).fit(X, y)

    def objective(coef, b):
        r = y - X @ coef - b
        return 0.5 * np.mean(r**2) + 0.5 * (0.5 * np.abs(coef).sum() + 0.25 * coef @ coef)

    est = result.estimator
    best = objective(ref.coef_, ref.intercept_)
    assert objective(est.coef_, est.intercept_) <= best * 1.03  # Adam: near the minimum
    # while alpha on the sum of squares (the old meaning) would be far from it
    ols = SkElasticNet(alpha=0.5 / len(X), l1_ratio=0.5, **TIGHT).fit(X, y)
    assert objective(ols.coef_, ols.intercept_) > best * 1.1


@pytest.mark.parametrize("ext", ["csv", "parquet"])
def test_alpha_cv_equals_scikit_learns_elastic_net_cv(files, tmp_path, run_cli, ext):
    folder, X, y = files
    out = tmp_path / "cv"
    code, stdout, err = run_cli(["fit", str(folder / f"d.{ext}"), "--target", "y",
                                 "--l1-ratio", "0.2,0.5,0.9", "--alpha", "cv", "--cv", "4",
                                 "--batch-rows", "29", "--out", str(out)])  # fmt: skip
    assert code == 0, err
    ref = SkElasticNetCV(l1_ratio=[0.2, 0.5, 0.9], cv=KFold(4), **TIGHT).fit(X, y)
    metrics = json.loads((out / "metrics.json").read_text())
    cv = metrics["cross_validation"]
    assert cv["alpha_"] == pytest.approx(ref.alpha_, rel=1e-12)
    assert cv["l1_ratio_"] == ref.l1_ratio_
    assert cv["alpha_1se"] >= cv["alpha_"]
    assert metrics["data"]["validation_rows"] == 0  # CV is the validation
    est = load_estimator(out)
    np.testing.assert_allclose(est.coef_, ref.coef_, rtol=1e-6, atol=1e-9)
    # the CV errors are scikit-learn's, fold by fold
    path = pd.read_csv(out / "cv_path.csv")
    chosen = path[path.l1_ratio == ref.l1_ratio_]
    i = [0.2, 0.5, 0.9].index(ref.l1_ratio_)
    np.testing.assert_allclose(chosen.alpha, ref.alphas_[i], rtol=1e-12)
    folds = chosen[[f"mse_fold{k}" for k in range(4)]].to_numpy()
    np.testing.assert_allclose(folds, ref.mse_path_[i], rtol=1e-6)
    coefs = pd.read_csv(out / "coef_path.csv")
    assert list(coefs.columns) == ["alpha", "intercept"] + [f"x{j}" for j in range(X.shape[1])]
    files_written = {p.name for p in out.iterdir()}
    assert {"coefficient_path.png", "cv_curve.png", "cv_path.csv", "coef_path.csv"} <= files_written
    report = (out / "report.md").read_text()
    assert "alpha_1se" in report and "![CV error against log alpha](cv_curve.png)" in report
    assert "alpha_ 0.0" in stdout or "alpha_ " in stdout


def test_alpha_cv_with_shuffled_folds_and_a_given_grid(files, tmp_path):
    folder, X, y = files
    grid = [1.0, 0.3, 0.1, 0.03, 0.01]
    result = fit(folder / "d.csv", "y", alpha="cv", l1_ratio=0.7, cv=3, cv_shuffle=True,
                 seed=11, alphas=",".join(map(str, grid)), batch_rows=41,
                 out=tmp_path / "run")  # fmt: skip
    folds = list(HashedKFold(3, seed=11).split(X))
    ref = SkElasticNetCV(l1_ratio=0.7, alphas=grid, cv=folds, **TIGHT).fit(X, y)
    est = result.estimator
    assert est.alpha_ == ref.alpha_
    np.testing.assert_allclose(est.mse_path_, ref.mse_path_, rtol=1e-6)
    np.testing.assert_allclose(est.coef_, ref.coef_, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize(
    ("args", "flag"),
    [
        (["--alpha", "0.1", "--l1-ratio", "1.5"], "--l1-ratio"),
        (["--alpha", "-1"], "--alpha"),
        (["--alpha", "cv", "--l1-ratio", "0.5", "--cv", "1"], "--cv"),
        (["--alpha", "cv", "--l1-ratio", "0.5", "--cv", "100000"], "--cv"),
        (["--alpha", "cv", "--l1-ratio", "0.5", "--alphas", ""], "--alphas"),
        (["--alpha", "cv", "--l1-ratio", "0.5,2"], "--l1-ratio"),
        (["--alpha", "0.1", "--l1-ratio", "0.2,0.5"], "--l1-ratio"),
        (["--alpha", "lots"], "--alpha"),
        # --positive constrains exact least squares only
        (["--positive", "--loss", "huber"], "--positive"),
        (["--positive", "--solver", "adam"], "--solver"),
        (["--positive", "--model", "mlp"], "--positive"),
    ],
)
def test_bad_penalties_are_one_line_and_exit_2(files, tmp_path, run_cli, args, flag):
    folder, _, _ = files
    out = tmp_path / "bad"
    code, stdout, err = run_cli(["fit", str(folder / "d.csv"), "--target", "y", *args,
                                 "--out", str(out)])  # fmt: skip
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and flag in err, err
    assert not out.exists()


def test_coordinate_descent_that_runs_out_of_sweeps_says_so(tmp_path, run_cli):
    X, y = _problem(n=200, d=30, seed=2, spread=30.0)
    X[:, 2:] += 0.99 * X[:, [0]]  # very correlated: coordinate descent needs many sweeps
    frame = pd.DataFrame(X, columns=[f"x{j}" for j in range(X.shape[1])])
    frame["y"] = y
    frame.to_csv(tmp_path / "hard.csv", index=False)
    out = tmp_path / "run"
    code, stdout, err = run_cli(["fit", str(tmp_path / "hard.csv"), "--target", "y",
                                 "--alpha", "1e-4", "--l1-ratio", "0.5", "--epochs", "1",
                                 "--val-split", "0", "--out", str(out)])  # fmt: skip
    assert code == 0, err
    warning_lines = [line for line in err.splitlines() if "did not converge" in line]
    assert len(warning_lines) == 1 and warning_lines[0].endswith("; raise --epochs")
    report = (out / "report.md").read_text()
    assert "did not converge (coordinate descent: duality gap" in report
    assert "converged (" not in report.replace("did not converge (", "")
    assert "solver: did not converge" in stdout


def test_gradient_training_that_runs_out_of_epochs_says_so(files, tmp_path, run_cli):
    folder, _, _ = files
    out = tmp_path / "run"
    code, stdout, err = run_cli(["fit", str(folder / "d.csv"), "--target", "y",
                                 "--solver", "sgd", "--lr", "1e-5", "--epochs", "3",
                                 "--out", str(out)])  # fmt: skip
    assert code == 0, err
    (line,) = [line for line in err.splitlines() if "did not converge" in line]
    assert line.endswith("increase --epochs or --lr")  # the flags, not the estimator's names
    report = (out / "report.md").read_text()
    assert "Solver: did not converge (relative improvement of the training loss" in report
    assert "> tol" in report and "increase epochs or lr" in report  # fit()'s option names


def test_streamed_least_absolute_deviations_is_marked_approximate(files, tmp_path, run_cli):
    folder, _, _ = files
    out = tmp_path / "run"
    code, stdout, err = run_cli(["fit", str(folder / "d.csv"), "--target", "y", "--loss", "l1",
                                 "--stream", "--epochs", "3", "--out", str(out)])  # fmt: skip
    assert code == 0, err
    assert len([line for line in err.splitlines() if "approximate" in line]) == 1
    report = (out / "report.md").read_text()
    assert "Solver: approximate" in report


@pytest.fixture(scope="module")
def nonnegative_file(tmp_path_factory):
    """Columns 1e4 plus noise of spread 1 or 1e-3: a no-intercept NNLS on which coordinate
    descent stalled on the wrong support (0.4% above the optimum, reported converged)."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(188, 8)) * rng.choice([1e-3, 1.0], size=8) + 1e4
    y = X @ rng.normal(size=8) + rng.normal(size=188)
    frame = pd.DataFrame(X, columns=[f"x{j}" for j in range(8)])
    frame["y"] = y
    path = tmp_path_factory.mktemp("positive") / "f.csv"
    frame.to_csv(path, index=False, float_format="%.17g")
    return path, X, y


def test_positive_is_the_apis_non_negative_least_squares(
    nonnegative_file, tmp_path, run_cli, nonnegative_reference
):
    from torchlinear import LinearRegression

    path, X, y = nonnegative_file
    out = tmp_path / "nnls"
    code, stdout, err = run_cli(["fit", str(path), "--target", "y", "--positive",
                                 "--val-split", "0", "--out", str(out)])  # fmt: skip
    assert code == 0, err
    assert "exact active set, coefficients >= 0" in stdout
    assert "solver: converged (active set: duality gap" in stdout
    est = load_estimator(out)
    api = LinearRegression(positive=True).fit(X, y)
    np.testing.assert_allclose(est.coef_, np.ravel(api.coef_), rtol=1e-9, atol=1e-12)
    ref, ref_b, objective = nonnegative_reference(X, y)
    assert objective(est.coef_, est.intercept_) <= objective(ref, ref_b) * (1 + 1e-10)
    np.testing.assert_array_equal(est.coef_ > 0, ref > 0)


def test_positive_with_a_penalty_and_with_alpha_cv(nonnegative_file, tmp_path):
    path, X, y = nonnegative_file
    pen = fit(path, "y", positive=True, alpha=0.01, l1_ratio=0.5, val_split=0,
              out=tmp_path / "pen")  # fmt: skip
    ref = SkElasticNet(alpha=0.01, l1_ratio=0.5, positive=True, **TIGHT).fit(X, y)
    np.testing.assert_allclose(pen.estimator.coef_, ref.coef_, rtol=1e-6, atol=1e-9)
    cv = fit(path, "y", positive=True, alpha="cv", l1_ratio=1.0, n_alphas=8, cv=3,
             out=tmp_path / "cv")  # fmt: skip
    assert cv.estimator.positive and (cv.estimator.coef_ >= 0).all()
    assert cv.convergence.startswith("converged (active set: duality gap")


@pytest.mark.parametrize("stream", [False, True])
def test_weighted_alpha_is_per_unit_of_weight_on_the_gradient_route_too(tmp_path, stream):
    # --alpha with --weight on --solver lbfgs was multiplied by the row count, not the
    # weight sum: another ridge than the exact route's (coefficients 0.1 apart)
    X, y = _problem(n=120, d=5, seed=3)
    w = np.random.default_rng(4).uniform(0.2, 3.0, size=len(y))
    frame = pd.DataFrame(X, columns=[f"x{j}" for j in range(X.shape[1])])
    frame["y"], frame["w"] = y, w
    frame.to_csv(tmp_path / "w.csv", index=False, float_format="%.17g")
    ref = Ridge(alpha=0.5 * w.sum(), **TIGHT).fit(X, y, sample_weight=w)
    common = dict(alpha=0.5, weight="w", val_split=0, stream=stream)
    exact = fit(tmp_path / "w.csv", "y", out=tmp_path / "exact", **common).estimator
    grad = fit(tmp_path / "w.csv", "y", solver="lbfgs", epochs=200, out=tmp_path / "lbfgs",
               **common).estimator  # fmt: skip
    np.testing.assert_allclose(exact.coef_, ref.coef_, rtol=1e-9)
    np.testing.assert_allclose(grad.coef_, ref.coef_, rtol=1e-6, atol=1e-8)
    assert grad.alpha == pytest.approx(exact.alpha, rel=1e-12) == 0.5 * w.sum()


@pytest.mark.parametrize("ext", ["csv", "parquet"])
def test_alpha_cv_with_a_validation_split_folds_the_training_rows_as_kfold(files, tmp_path, ext):
    # the folds were the file's contiguous fifths with the held-out rows removed (unequal
    # folds, another alpha_): now KFold(K) of the training rows, as documented
    from torchlinear.data.split import holdout_mask

    folder, X, y = files
    result = fit(folder / f"d.{ext}", "y", alpha="cv", l1_ratio=[0.5, 1.0], val_split=0.2,
                 batch_rows=29, out=tmp_path / "cv")  # fmt: skip
    train = ~holdout_mask(0, len(y), 0.2, 0)
    ref = SkElasticNetCV(l1_ratio=[0.5, 1.0], cv=KFold(5), **TIGHT).fit(X[train], y[train])
    est = result.estimator
    assert est.alpha_ == pytest.approx(ref.alpha_, rel=1e-12)
    np.testing.assert_allclose(est.coef_, ref.coef_, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize(
    ("rows", "val_split", "shown"), [(4, "0", "has 4: lower"), (6, "0.5", "training rows")]
)
def test_too_few_rows_for_the_folds_is_one_line(tmp_path, run_cli, rows, val_split, shown):
    path = tmp_path / "few.csv"
    path.write_text("a,y\n" + "".join(f"{i},{2 * i + (i % 3)}\n" for i in range(rows)))
    argv = ["fit", str(path), "--target", "y", "--alpha", "cv", "--cv", "5", "--l1-ratio"]
    code, _, err = run_cli([*argv, "0.5", "--val-split", val_split, "--out", str(tmp_path / "r")])
    assert code == 2 and err.count("\n") == 1, err
    assert "--cv 5 folds need at least 5 rows" in err and shown in err and "lower --cv" in err
